//! Offhook's federation (issue 24): appliances at many sites joined over a NATS JetStream
//! cluster. A front end of the voice-messaging core, as the web crate is: it speaks NATS, and
//! every rule (resolving `name@site`, storing, delivering) is the core's
//! ([`offhook_domain::federation`]).
//!
//! What lives on NATS (created by the first site that needs it, with
//! [`Config::replicas`] copies):
//!
//! | name | kind | what |
//! | --- | --- | --- |
//! | `OFFHOOK_MESSAGES` | stream, work-queue retention, subjects `offhook.msg.<site>` | messages between sites ([`wire`]); each site consumes its own subject through the durable pull consumer `site-<site>`, acknowledging a message only once it is stored |
//! | `offhook_bundles` | object store | the sealed bodies over the servers' payload limit; removed once received |
//! | `offhook_directory` | key-value, key `<site>` | each site's users: `{at_ms, users: [{id, name, display}]}` ([`directory`]) |
//! | `offhook_presence` | key-value, key `<site>` | who is online there: `{at_ms, online: [{id, status}]}`, published on every change and every heartbeat |
//! | `offhook.live.<site>` | core NATS subject (not persisted) | live intercom buffers for that site's users ([`live`]) |
//!
//! The loop: [`start`] connects (in the background: the appliance serves its own site while
//! NATS is unreachable), creates what is missing, then runs one task per duty, each retrying
//! on its own after an error: forwarding the outbox (woken by each message made ready),
//! consuming this site's subject, publishing this site's directory and presence, watching the
//! others' and marking a site's users offline once it has not published for three heartbeats.
//!
//! Decisions worth knowing:
//! - **Exactly once, as the user sees it.** A message is acknowledged to its sender once
//!   stored here, as any message. It leaves the outbox only on JetStream's acknowledgement of
//!   the publish, so a crash forwards it again; `Nats-Msg-Id` drops that second copy inside
//!   the stream's duplicate window, and the receiving site's `federation_received` table after
//!   it. The receiving site acknowledges a message to the stream only once it is stored, so a
//!   crash there has it delivered again, and recognised.
//! - **The directory is a copy.** Remote users are rows of the local database, refreshed
//!   from the bucket: sending to `bob@branch` works while NATS is down (the message waits in
//!   the outbox), and a name not yet in the directory is refused as an unknown recipient.
//! - **One key for all sites.** A body is sealed under the federation key
//!   (`[federation] key_file`), bound to its id and both sites: a message forged or moved by
//!   anyone without the key is rejected and counted, never delivered. Without a key file the
//!   seal is under a published constant (corruption is caught, forgery is not) and the
//!   appliance warns at start.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The tasks here are I/O drivers around NATS: their pauses and retries are real time. The
// message format ([`wire`]) takes no clock.
#![allow(clippy::disallowed_methods)]

pub mod config;
pub mod directory;
pub mod live;
mod transport;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};
use offhook_domain::{Event, VoiceMessaging};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use crate::config::Config;

/// The stream of messages between sites.
pub const STREAM: &str = "OFFHOOK_MESSAGES";
/// The object store of bodies too large for one NATS message.
pub const OBJECTS: &str = "offhook_bundles";
/// The directory bucket.
pub const DIRECTORY: &str = "offhook_directory";
/// The presence bucket.
pub const PRESENCE: &str = "offhook_presence";

/// The running federation: its tasks, and the NATS connection.
#[derive(Debug)]
pub struct Federation {
    client: async_nats::Client,
    tasks: Vec<JoinHandle<()>>,
}

/// What every task shares.
pub(crate) struct Shared {
    pub(crate) core: VoiceMessaging,
    pub(crate) config: Config,
    pub(crate) js: jetstream::Context,
    /// Woken when a message is made ready (the outbox may have grown).
    pub(crate) outbox: Notify,
    /// Woken when a local user's presence changes.
    pub(crate) presence: Notify,
    pub(crate) local_presence:
        std::sync::Mutex<std::collections::BTreeMap<uuid::Uuid, Option<String>>>,
}

impl Federation {
    /// Stops every task and closes the connection (what was not forwarded waits in the outbox
    /// for the next start).
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}

/// Joins the federation as `config` says, for `core`. Returns at once: the connection is made
/// in the background and retried for as long as it takes.
pub async fn start(core: VoiceMessaging, config: Config) -> Result<Federation, String> {
    core.federation().enable(config.site());
    if !config.keyed() {
        warn!(
            "[federation] has no key_file: messages between sites are sealed under a published \
             constant, so anyone who can publish to the NATS stream can forge them"
        );
    }
    let status_core = core.clone();
    let options = config
        .connect_options_async()
        .await?
        .event_callback(move |event| {
            let core = status_core.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        info!("federation: connected to NATS");
                        core.federation().set_connected(true);
                    }
                    async_nats::Event::Disconnected => {
                        warn!("federation: disconnected from NATS; retrying");
                        core.federation().set_connected(false);
                    }
                    other => info!(event = %other, "federation: NATS event"),
                }
            }
        });
    let client = options
        .connect(config.servers().to_vec())
        .await
        .map_err(|e| format!("federation: cannot connect to NATS: {e}"))?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .build(client.clone());
    let events = core.subscribe();
    let shared = Arc::new(Shared {
        core,
        config,
        js,
        outbox: Notify::new(),
        presence: Notify::new(),
        local_presence: std::sync::Mutex::new(std::collections::BTreeMap::new()),
    });
    let s = shared.clone();
    let setup = tokio::spawn(async move { run(s, events).await });
    info!(site = %shared.config.site(), servers = ?shared.config.servers(), "federation starting");
    Ok(Federation {
        client,
        tasks: vec![setup],
    })
}

/// Creates what is missing on NATS (retrying until it can), then runs the duties.
async fn run(s: Arc<Shared>, mut events: tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let mut wait = Duration::from_millis(250);
    let made = loop {
        match make(&s).await {
            Ok(made) => break made,
            Err(e) => {
                warn!(error = %e, "federation: cannot set up the stream and buckets yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    };
    info!("federation: stream and buckets ready");
    let Made {
        stream,
        objects,
        directory,
        presence,
    } = made;
    // A join set: when this task is aborted (the shutdown), dropping it aborts every duty.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(transport::forward(s.clone(), objects.clone()));
    tasks.spawn(transport::consume(s.clone(), stream, objects));
    tasks.spawn(directory::publish(
        s.clone(),
        directory.clone(),
        presence.clone(),
    ));
    tasks.spawn(directory::watch_directory(s.clone(), directory));
    tasks.spawn(directory::watch_presence(s.clone(), presence));
    let (relay, relayed) = tokio::sync::mpsc::channel(live::QUEUE);
    match s.core.set_live_relay(relay).await {
        Ok(()) => {
            tasks.spawn(live::relay(s.clone(), relayed));
            tasks.spawn(live::receive(s.clone()));
        }
        Err(e) => {
            warn!(error = %e, "federation: live audio across sites is off: cannot read the directory")
        }
    }
    // The core's events: a message made ready may be for another site; a local user's presence
    // is published.
    while let Some(event) = events.recv().await {
        match event {
            Event::MessageReady { .. } => s.outbox.notify_one(),
            Event::Presence {
                user,
                online,
                status,
            } => {
                {
                    let mut map = s.local_presence.lock().unwrap_or_else(|p| p.into_inner());
                    if online {
                        map.insert(user, status);
                    } else {
                        map.remove(&user);
                    }
                }
                s.presence.notify_one();
            }
            _ => {}
        }
    }
    tasks.abort_all();
}

struct Made {
    stream: stream::Stream,
    objects: object_store::ObjectStore,
    directory: kv::Store,
    presence: kv::Store,
}

async fn make(s: &Shared) -> Result<Made, String> {
    let replicas = s.config.replica_count();
    let stream =
        s.js.get_or_create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["offhook.msg.*".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: Duration::from_secs(120),
            description: Some("Offhook: voice messages between sites".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {STREAM}: {e}"))?;
    let objects = match s.js.get_object_store(OBJECTS).await {
        Ok(o) => o,
        Err(_) => {
            s.js.create_object_store(object_store::Config {
                bucket: OBJECTS.into(),
                description: Some("Offhook: message bodies too large for one NATS message".into()),
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("object store {OBJECTS}: {e}"))?
        }
    };
    let directory = key_value(s, DIRECTORY, Duration::ZERO).await?;
    let presence = key_value(s, PRESENCE, Duration::from_secs(24 * 3600)).await?;
    Ok(Made {
        stream,
        objects,
        directory,
        presence,
    })
}

/// Bucket `name` (one value a key), made if missing. Its stream is made here as the key-value
/// convention lays it out (`KV_<name>`, subjects `$KV.<name>.>`, one message a subject, roll-ups
/// allowed, direct gets), not through the client's `create_key_value`, which first asks for
/// account details that nats-server 2.9 (Debian 12's) answers in a shape the client refuses.
async fn key_value(s: &Shared, name: &str, max_age: Duration) -> Result<kv::Store, String> {
    s.js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        num_replicas: s.config.replica_count(),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("bucket {name}: {e}"))?;
    s.js.get_key_value(name)
        .await
        .map_err(|e| format!("bucket {name}: {e}"))
}
