//! [`VoiceMessaging`]: the core's state and how it starts.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::interval;
use tracing::{info, warn};
use uuid::Uuid;

use crate::audio::SealKey;
use crate::clients::ClientManager;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Db, Paths, messages, users};
use crate::events::{Bus, Event};
use crate::metrics::Metrics;
use crate::phones::Phones;
use crate::transcode;

/// Why the core could not open its data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The database or data directory is unusable.
    #[error("{0}")]
    Db(#[from] db::Error),
}

/// The voice-messaging core. A cheap handle: clones share one state.
#[derive(Clone)]
pub struct VoiceMessaging(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) clients: ClientManager,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: Config,
    pub(crate) key: SealKey,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) transcoder: transcode::Queue,
    pub(crate) events: Bus,
    pub(crate) phones: Phones,
    /// Password checks (argon2, a CPU-second each on a small machine) running at once: at most
    /// one per core, so a login flood queues here instead of starving everything else.
    pub(crate) password_checks: tokio::sync::Semaphore,
    /// Each user's upload bucket ([`crate::limits`]).
    pub(crate) upload_rate: crate::limits::UploadRate,
    /// What the last retention sweep did ([`crate::health`]).
    pub(crate) last_sweep: crate::health::LastSweep,
    /// Retention and quota as now in force ([`crate::settings`]): the config's, or the
    /// console's.
    pub(crate) settings: crate::settings::LiveSettings,
    /// The federation link's state ([`crate::federation`]).
    pub(crate) federation: crate::federation::Status,
}

impl std::fmt::Debug for VoiceMessaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceMessaging")
            .field("server", &self.0.clients.server_id())
            .finish_non_exhaustive()
    }
}

impl VoiceMessaging {
    /// Opens the data directory (creating it, its key and its database on first use) and marks
    /// every user offline. Call [`Self::start`] once the subscribers have subscribed.
    pub async fn open(
        data_dir: &Path,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OpenError> {
        let paths = Paths::new(data_dir);
        let key = db::load_or_create_key(&paths)?;
        let (db, _writer) = Db::open(&paths, 4)?;
        let sealing = key.clone();
        let server_id = db
            .write(move |c| {
                users::reset_online(c)?;
                // SIP secrets written in clear by an older version are sealed now.
                let sealed = db::secrets::seal_clear(c, &sealing)?;
                if sealed > 0 {
                    tracing::info!(users = sealed, "SIP secrets sealed with the master key");
                }
                Ok((users::server_id(c)?, crate::settings::stored(c)?))
            })
            .await?;
        let (server_id, stored) = server_id;
        // The dummy hash a login of a missing user is checked against is made now, not on the
        // first such login (which would then take twice as long as a wrong password).
        drop(tokio::task::spawn_blocking(|| {
            users::check_password(None, "")
        }));
        let metrics = Arc::new(Metrics::default());
        let clients = ClientManager::new(server_id, metrics.clone());
        let core = Self(Arc::new(Inner {
            db,
            clients,
            metrics,
            settings: crate::settings::LiveSettings::new(&config),
            upload_rate: crate::limits::UploadRate::new(
                config.upload_rate,
                config.max_upload as u64,
            ),
            config,
            key,
            clock,
            transcoder: transcode::Queue::default(),
            events: Bus::default(),
            phones: Phones::default(),
            last_sweep: crate::health::LastSweep::default(),
            federation: crate::federation::Status::default(),
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, usize::from),
            ),
        }));
        core.apply_stored_settings(stored);
        Ok(core)
    }

    /// Starts the transcoding workers and queues every message still `processing` (left by a
    /// crash between acknowledgement and transcoding).
    pub async fn start(&self) -> Result<(), db::Error> {
        transcode::start(self).await
    }

    /// The events from now on, on a channel of the caller's own (see [`crate::events`]).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Event> {
        self.0.events.subscribe()
    }

    /// Publishes `event`; returns how many subscribers got it.
    pub(crate) fn publish(&self, event: Event) -> usize {
        self.0.events.publish(event)
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// Sessions and delivery to online clients.
    pub fn clients(&self) -> &ClientManager {
        &self.0.clients
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Wall-clock time.
    pub fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }

    /// The server's privileged GUID.
    pub fn server_id(&self) -> Uuid {
        self.0.clients.server_id()
    }

    /// Messages acknowledged and waiting for a transcoding worker (for `/metrics`).
    pub fn transcode_waiting(&self) -> usize {
        self.0.transcoder.waiting()
    }

    /// The retention sweep: applies the configured policy every `sweep_interval`, forever.
    pub async fn retention(self) {
        let mut tick = interval(self.0.config.sweep_interval);
        loop {
            tick.tick().await;
            let (policy, now) = (self.0.settings.retention(), self.0.clock.now_ms());
            match self
                .0
                .db
                .write(move |c| messages::sweep(c, policy, now))
                .await
            {
                Ok(files) if !files.is_empty() => {
                    self.0.last_sweep.record(now, Ok(files.len()));
                    let dir = self.0.db.paths().media.clone();
                    let n = files.len();
                    let _ = tokio::task::spawn_blocking(move || {
                        for f in files {
                            let _ = std::fs::remove_file(dir.join(f));
                        }
                    })
                    .await;
                    info!(files = n, "retention removed media");
                }
                Ok(_) => self.0.last_sweep.record(now, Ok(0)),
                Err(e) => {
                    self.0.last_sweep.record(now, Err(e.to_string()));
                    warn!(error = %e, "retention sweep failed");
                }
            }
            match transcode::requeue(&self).await {
                Ok(0) => {}
                Ok(n) => info!(messages = n, "transcoding retried"),
                Err(e) => warn!(error = %e, "cannot list the messages left processing"),
            }
        }
    }
}
