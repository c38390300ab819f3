//! Intercom across sites: live buffers for users of another site go over core NATS (not
//! persisted: a buffer that cannot go at once is dropped and counted, as live audio does not
//! wait), on subject `offhook.live.<site>`; the stored copy follows through the stream as any
//! message, so the recipient hears it live, then gets it stored, as a local recipient does.
//!
//! A buffer is one NATS message: headers `Offhook-From` and `Offhook-To` (the sites), and a
//! body sealed under the federation key, bound to both sites ([`aad`]), holding the JSON
//! `{from: {id, name, display}, to: [names], object}` where `object` is the intercom `send`
//! object as local sessions get it (see `offhook_domain::intercom`). The receiving site sets
//! its `from` to `name@site` and passes it to the online sessions of the recipients it has.

// An I/O driver: its retries, pauses and heartbeats are real time.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_nats::HeaderMap;
use codecs::seal::{self, Compression};
use futures_util::StreamExt;
use offhook_domain::db::remote::{Person, valid_site};
use offhook_domain::federation::{LiveOut, Reject};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::{Shared, wire};

/// How many buffers may wait for the relay before new ones are dropped.
pub(crate) const QUEUE: usize = 1024;
/// The largest live message taken (a buffer is at most a second of audio: 16 kB, base64).
const MAX_LIVE: usize = 64 << 10;
/// The most streams from other sites followed at once.
const MAX_STREAMS: usize = 1024;

/// The subject of live buffers for `site`.
pub fn subject(site: &str) -> String {
    format!("offhook.live.{site}")
}

/// The associated data a live buffer is sealed with.
pub fn aad(from: &str, to: &str) -> Vec<u8> {
    let mut a = b"offhook-live/1\0".to_vec();
    a.extend_from_slice(from.as_bytes());
    a.push(0);
    a.extend_from_slice(to.as_bytes());
    a
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    from: Person,
    to: Vec<String>,
    object: serde_json::Value,
}

/// Sends the core's live buffers for other sites, forever.
pub(crate) async fn relay(s: Arc<Shared>, mut rx: mpsc::Receiver<LiveOut>) {
    let me = s.config.site().to_owned();
    let client = s.js.client();
    while let Some(item) = rx.recv().await {
        let status = s.core.federation();
        if client.connection_state() != async_nats::connection::State::Connected {
            status.live_dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let body = Body {
            from: Person {
                id: item.from,
                name: item.from_name,
                display: String::new(),
            },
            to: item.to,
            object: item.object,
        };
        let sealed = serde_json::to_vec(&body)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                seal::seal(
                    s.config.key(),
                    &aad(&me, &item.site),
                    &plain,
                    Compression::None,
                )
                .map_err(|e| e.to_string())
            });
        let sealed = match sealed {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "federation: cannot seal a live buffer");
                continue;
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(wire::header::FROM, me.as_str());
        headers.insert(wire::header::TO, item.site.as_str());
        if let Err(e) = client
            .publish_with_headers(subject(&item.site), headers, sealed.into())
            .await
        {
            debug!(error = %e, "federation: a live buffer was not sent");
            status.live_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A stream from another site being followed: its recipients here.
struct Following {
    to: Vec<Uuid>,
    from_name: String,
}

/// Passes live buffers from other sites to the sessions here, forever.
pub(crate) async fn receive(s: Arc<Shared>) {
    let me = s.config.site().to_owned();
    let client = s.js.client();
    loop {
        let mut sub = match client.subscribe(subject(&me)).await {
            Ok(sub) => sub,
            Err(e) => {
                warn!(error = %e, "federation: cannot subscribe to live audio; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut streams: HashMap<(String, Uuid, String), Following> = HashMap::new();
        while let Some(m) = sub.next().await {
            if let Err(why) = take(&s, &me, &mut streams, &m).await {
                s.core.federation().reject(why);
                debug!(kind = why.label(), "federation: a live buffer was rejected");
            }
        }
    }
}

async fn take(
    s: &Shared,
    me: &str,
    streams: &mut HashMap<(String, Uuid, String), Following>,
    m: &async_nats::Message,
) -> Result<(), Reject> {
    let headers = m.headers.as_ref().ok_or(Reject::Malformed)?;
    let from = headers
        .get(wire::header::FROM)
        .map(|v| v.as_str())
        .ok_or(Reject::Malformed)?;
    let to = headers
        .get(wire::header::TO)
        .map(|v| v.as_str())
        .ok_or(Reject::Malformed)?;
    if !valid_site(from) || !valid_site(to) {
        return Err(Reject::Malformed);
    }
    if to != me || from == me {
        return Err(Reject::WrongSite);
    }
    if m.payload.len() > MAX_LIVE {
        return Err(Reject::Oversized);
    }
    let plain = seal::open(s.config.key(), &aad(from, me), &m.payload, MAX_LIVE as u64)
        .map_err(|_| Reject::BadSeal)?;
    let body: Body = serde_json::from_slice(&plain).map_err(|_| Reject::Malformed)?;
    let stream = body
        .object
        .get("stream")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .ok_or(Reject::Malformed)?
        .to_owned();
    let end = body.object.get("end").and_then(|v| v.as_bool()) == Some(true);
    let key = (from.to_owned(), body.from.id, stream);
    if !streams.contains_key(&key) {
        if streams.len() >= MAX_STREAMS {
            // Streams whose end was lost: the oldest goes (any will do: they are all stale or
            // about to be refreshed by their next buffer).
            if let Some(k) = streams.keys().next().cloned() {
                streams.remove(&k);
            }
        }
        let names: Vec<String> = body.to.iter().take(256).cloned().collect();
        let to = s
            .core
            .local_users(names)
            .await
            .map_err(|_| Reject::Malformed)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        streams.insert(
            key.clone(),
            Following {
                to,
                from_name: format!("{}@{from}", body.from.name),
            },
        );
    }
    let f = streams.get(&key).ok_or(Reject::Malformed)?;
    let mut object = body.object;
    if let Some(o) = object.as_object_mut() {
        o.insert("from".into(), f.from_name.clone().into());
    }
    s.core
        .live_from_site((body.from.id, &f.from_name), &f.to, object);
    if end {
        streams.remove(&key);
    }
    Ok(())
}
