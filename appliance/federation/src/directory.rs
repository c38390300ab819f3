//! The directory and presence: this site's users and who of them is online, published to the
//! `offhook_directory` and `offhook_presence` buckets under the site's name; the other sites'
//! copied into the local database as they change.
//!
//! Presence is published on every change and, unchanged, every heartbeat. A site whose
//! presence was not heard for three heartbeats and two seconds (its appliance stopped, or it
//! lost NATS) has its users shown offline until it publishes again; the health endpoint shows
//! when each site was last heard.

// An I/O driver: its retries, pauses and heartbeats are real time.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use offhook_domain::db::remote::{Person, valid_site};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::Shared;

/// The largest directory or presence value read from the bucket.
const MAX_VALUE: usize = 4 << 20;

/// A site's directory entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Directory {
    /// When it was published, ms since the epoch (the publishing site's clock).
    pub at_ms: i64,
    /// The site's users.
    pub users: Vec<Person>,
}

/// One user online.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Online {
    /// Their GUID.
    pub id: Uuid,
    /// The status they set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A site's presence entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Presence {
    /// When it was published, ms since the epoch.
    pub at_ms: i64,
    /// Who is online there.
    pub online: Vec<Online>,
}

/// Publishes this site's directory (when it changed; checked every heartbeat) and presence
/// (on every change, and every heartbeat), forever.
pub(crate) async fn publish(s: Arc<Shared>, directory: kv::Store, presence: kv::Store) {
    let site = s.config.site().to_owned();
    let every = s.config.heartbeat_every();
    let mut last_people: Option<Vec<Person>> = None;
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = s.presence.notified() => {
                // Changes that come together are published together.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let now = s.core.clock().now_ms();
        match s.core.local_people().await {
            Ok(people) if last_people.as_ref() != Some(&people) => {
                let value = Directory {
                    at_ms: now,
                    users: people.clone(),
                };
                match serde_json::to_vec(&value) {
                    Ok(v) => match directory.put(&site, v.into()).await {
                        Ok(_) => {
                            debug!(users = people.len(), "federation: directory published");
                            last_people = Some(people);
                        }
                        Err(e) => warn!(error = %e, "federation: cannot publish the directory"),
                    },
                    Err(e) => warn!(error = %e, "federation: cannot encode the directory"),
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "federation: cannot read the local users"),
        }
        let online: Vec<Online> = {
            let map = s.local_presence.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(id, status)| Online {
                    id: *id,
                    status: status.clone(),
                })
                .collect()
        };
        let value = Presence { at_ms: now, online };
        match serde_json::to_vec(&value) {
            Ok(v) => {
                if let Err(e) = presence.put(&site, v.into()).await {
                    warn!(error = %e, "federation: cannot publish presence");
                }
            }
            Err(e) => warn!(error = %e, "federation: cannot encode presence"),
        }
    }
}

/// Copies every other site's directory into the local database as it changes, forever.
pub(crate) async fn watch_directory(s: Arc<Shared>, bucket: kv::Store) {
    let me = s.config.site().to_owned();
    loop {
        let mut watch = match bucket.watch_with_history(">").await {
            Ok(w) => w,
            Err(e) => {
                warn!(error = %e, "federation: cannot watch the directory; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(entry) = watch.next().await {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warn!(error = %e, "federation: directory watch failed; watching again");
                    break;
                }
            };
            let site = entry.key.clone();
            if site == me || !valid_site(&site) {
                continue;
            }
            let people = match entry.operation {
                kv::Operation::Put => match parse::<Directory>(&entry.value) {
                    Some(d) => {
                        s.core
                            .federation()
                            .seen(&site, d.at_ms.min(s.core.clock().now_ms()));
                        d.users
                    }
                    None => {
                        warn!(site = %site, "federation: a directory entry does not parse; ignored");
                        continue;
                    }
                },
                kv::Operation::Delete | kv::Operation::Purge => Vec::new(),
            };
            if let Err(e) = s.core.set_site_directory(site.clone(), people).await {
                warn!(site = %site, error = %e, "federation: cannot record a site's directory");
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What is known of one other site's presence.
struct SiteState {
    online: HashMap<Uuid, Option<String>>,
    heard: Instant,
    gone: bool,
}

/// Applies every other site's presence as it changes, and shows a site that went quiet
/// offline, forever.
pub(crate) async fn watch_presence(s: Arc<Shared>, bucket: kv::Store) {
    let me = s.config.site().to_owned();
    let stale = s.config.heartbeat_every() * 3 + Duration::from_secs(2);
    let mut sites: BTreeMap<String, SiteState> = BTreeMap::new();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        let mut watch = match bucket.watch_with_history(">").await {
            Ok(w) => w,
            Err(e) => {
                warn!(error = %e, "federation: cannot watch presence; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                expire(&s, &mut sites, stale).await;
                continue;
            }
        };
        loop {
            let entry = tokio::select! {
                e = watch.next() => e,
                _ = check.tick() => {
                    expire(&s, &mut sites, stale).await;
                    continue;
                }
            };
            let entry = match entry {
                Some(Ok(e)) => e,
                Some(Err(e)) => {
                    warn!(error = %e, "federation: presence watch failed; watching again");
                    break;
                }
                None => break,
            };
            let site = entry.key.clone();
            if site == me || !valid_site(&site) {
                continue;
            }
            let value = match entry.operation {
                kv::Operation::Put => parse::<Presence>(&entry.value),
                kv::Operation::Delete | kv::Operation::Purge => None,
            };
            let now_ms = s.core.clock().now_ms();
            let Some(value) = value else {
                continue;
            };
            // How long ago it was published (an old entry read at start is already stale).
            let age = Duration::from_millis(u64::try_from(now_ms - value.at_ms).unwrap_or(0));
            let heard = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
            s.core.federation().seen(&site, value.at_ms.min(now_ms));
            let new: HashMap<Uuid, Option<String>> =
                value.online.into_iter().map(|o| (o.id, o.status)).collect();
            let state = sites.entry(site.clone()).or_insert_with(|| SiteState {
                online: HashMap::new(),
                heard,
                gone: false,
            });
            state.heard = heard;
            if age > stale {
                continue;
            }
            state.gone = false;
            let before = std::mem::replace(&mut state.online, new);
            // Users not in the directory yet are applied again at the next publication.
            for id in apply(&s, &before, &state.online).await {
                state.online.remove(&id);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Tells the core who came online, changed status or went offline between `before` and `now`;
/// returns those online whom the core does not know yet.
async fn apply(
    s: &Shared,
    before: &HashMap<Uuid, Option<String>>,
    now: &HashMap<Uuid, Option<String>>,
) -> Vec<Uuid> {
    let gone: HashSet<&Uuid> = before.keys().filter(|k| !now.contains_key(*k)).collect();
    for id in gone {
        if let Err(e) = s.core.remote_presence(*id, false, None).await {
            warn!(error = %e, "federation: cannot record presence");
        }
    }
    let mut unknown = Vec::new();
    for (id, status) in now {
        if before.get(id) != Some(status) {
            match s.core.remote_presence(*id, true, status.clone()).await {
                Ok(true) => {}
                Ok(false) => unknown.push(*id),
                Err(e) => {
                    warn!(error = %e, "federation: cannot record presence");
                    unknown.push(*id);
                }
            }
        }
    }
    unknown
}

/// Shows offline the users of every site not heard from for `stale`.
async fn expire(s: &Shared, sites: &mut BTreeMap<String, SiteState>, stale: Duration) {
    for (site, state) in sites.iter_mut() {
        if !state.gone && state.heard.elapsed() > stale {
            state.gone = true;
            state.online.clear();
            warn!(site = %site, "federation: site not heard from; its users are shown offline");
            if let Err(e) = s.core.site_gone(site.clone()).await {
                warn!(error = %e, "federation: cannot record presence");
            }
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: &[u8]) -> Option<T> {
    if value.len() > MAX_VALUE {
        return None;
    }
    serde_json::from_slice(value).ok()
}
