//! Messages between sites: the outbox forwarded to the stream, and this site's subject
//! consumed (see the crate docs for the guarantees, and [`crate::wire`] for the format).

// An I/O driver: its retries, pauses and heartbeats are real time.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{object_store, stream};
use futures_util::StreamExt;
use offhook_domain::federation::{ReceiveError, Received, Reject};
use tokio::io::AsyncReadExt;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::{Shared, wire};

/// The most messages handed to JetStream before their acknowledgements are awaited.
const BATCH: usize = 64;
/// The most body bytes in flight in one batch.
const BATCH_BYTES: usize = 16 << 20;
/// How long an acknowledgement of a publish is waited for.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Room left in a NATS message for its headers.
const HEADROOM: usize = 4 << 10;

/// Forwards the outbox forever: woken by each message made ready, and every 2 s; after a
/// failure, again after a pause that grows to 5 s.
pub(crate) async fn forward(s: Arc<Shared>, objects: object_store::ObjectStore) {
    let mut pause = Duration::from_millis(100);
    loop {
        match forward_some(&s, &objects).await {
            Ok(n) if n > 0 => {
                pause = Duration::from_millis(100);
                continue;
            }
            Ok(_) => {
                pause = Duration::from_millis(100);
                tokio::select! {
                    () = s.outbox.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "federation: cannot forward messages yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One batch: returns how many messages left the outbox.
async fn forward_some(s: &Shared, objects: &object_store::ObjectStore) -> Result<usize, String> {
    let batch = s.core.outbox(BATCH).await.map_err(|e| e.to_string())?;
    if batch.is_empty() {
        return Ok(0);
    }
    let me = s.config.site();
    let max_payload = s.js.client().max_payload().saturating_sub(HEADROOM);
    let mut waiting = Vec::with_capacity(batch.len());
    let mut bytes = 0;
    for (id, site) in batch {
        let Some(m) = s
            .core
            .outgoing(id, site.clone())
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        let (headers, body) = match wire::encode(s.config.key(), &m, me, &site) {
            Ok(encoded) => encoded,
            Err(e) => {
                // It never will be (its header is over the limit): dropped, not retried forever.
                warn!(message_id = %id, site = %site, error = %e, "federation: message cannot be forwarded; dropped");
                s.core.federation().dropped.fetch_add(1, Ordering::Relaxed);
                s.core
                    .forwarded(id, site)
                    .await
                    .map_err(|e| e.to_string())?;
                continue;
            }
        };
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(k, v.as_str());
        }
        let body = if body.len() > max_payload {
            let name = format!("{id}.{site}");
            objects
                .put(name.as_str(), &mut &body[..])
                .await
                .map_err(|e| format!("object {name}: {e}"))?;
            map.insert(wire::header::OBJECT, name.as_str());
            bytes::Bytes::new()
        } else {
            bytes += body.len();
            body.into()
        };
        let ack =
            s.js.publish_with_headers(wire::subject(&site), map, body)
                .await
                .map_err(|e| format!("publish: {e}"))?;
        waiting.push((id, site, ack));
        if bytes > BATCH_BYTES {
            break;
        }
    }
    let mut done = 0;
    for (id, site, ack) in waiting {
        match tokio::time::timeout(ACK_WAIT, ack).await {
            Ok(Ok(ack)) => {
                s.core
                    .forwarded(id, site.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                s.core
                    .federation()
                    .published
                    .fetch_add(1, Ordering::Relaxed);
                debug!(message_id = %id, site = %site, seq = ack.sequence, duplicate = ack.duplicate, "federation: message forwarded");
                done += 1;
            }
            Ok(Err(e)) => return Err(format!("message {id} for {site}: {e}")),
            Err(_) => return Err(format!("message {id} for {site}: no acknowledgement")),
        }
    }
    Ok(done)
}

/// Consumes this site's subject forever, through its durable consumer.
pub(crate) async fn consume(
    s: Arc<Shared>,
    stream: stream::Stream,
    objects: object_store::ObjectStore,
) {
    let me = s.config.site().to_owned();
    let name = format!("site-{me}");
    loop {
        let consumer = match stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: wire::subject(&me),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: 64,
                    description: Some(format!("Offhook site {me}: messages to store here")),
                    ..Default::default()
                },
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "federation: cannot open this site's consumer; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Bounded: at most 16 messages pulled ahead, and 8 MiB or two of the largest the
        // servers take (a batch must hold one; a larger body waits in the object store).
        let batch_bytes = (8 << 20).max(2 * s.js.client().max_payload());
        let mut messages = match consumer
            .stream()
            .max_messages_per_batch(16)
            .max_bytes_per_batch(batch_bytes)
            .messages()
            .await
        {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "federation: cannot consume; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        info!(consumer = %name, "federation: consuming this site's messages");
        while let Some(m) = messages.next().await {
            match m {
                Ok(m) => take(&s, &objects, m).await,
                Err(e) => {
                    warn!(error = %e, "federation: consuming failed; consuming again");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Takes one message: stores it and acknowledges it, or rejects it for good (counted), or
/// leaves it to be delivered again (storage failed).
async fn take(s: &Shared, objects: &object_store::ObjectStore, m: async_nats::jetstream::Message) {
    let status = s.core.federation();
    if m.info().is_ok_and(|i| i.delivered > 1) {
        status.redelivered.fetch_add(1, Ordering::Relaxed);
    }
    let me = s.config.site();
    let env = {
        let headers = m.headers.as_ref();
        let get = |k: &str| headers.and_then(|h| h.get(k)).map(|v| v.as_str());
        wire::envelope(me, get)
    };
    let env = match env {
        Ok(e) => e,
        Err(r) => return reject(s, &m, r, None).await,
    };
    let max = s.config.max_message_bytes();
    let body = match &env.object {
        None => m.payload.to_vec(),
        Some(name) => match fetch_object(objects, name, max).await {
            Ok(b) => b,
            Err(Fetch::Reject(r)) => return reject(s, &m, r, Some(env.id)).await,
            Err(Fetch::Later(e)) => {
                warn!(message_id = %env.id, error = %e, "federation: cannot read a message's body yet");
                let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(5)))).await;
                return;
            }
        },
    };
    let incoming = match wire::decode(s.config.key(), me, &env, &body, max) {
        Ok(i) => i,
        Err(r) => return reject(s, &m, r, Some(env.id)).await,
    };
    drop(body);
    match s.core.receive(incoming).await {
        Ok(r) => {
            match r {
                Received::Stored(_) => status.received.fetch_add(1, Ordering::Relaxed),
                Received::Duplicate => status.duplicates.fetch_add(1, Ordering::Relaxed),
                Received::NoRecipient => status.no_recipient.fetch_add(1, Ordering::Relaxed),
            };
            if let Err(e) = m.ack().await {
                // Delivered again after the ack wait, and recognised then.
                warn!(message_id = %env.id, error = %e, "federation: cannot acknowledge a stored message");
            }
            if let Some(name) = &env.object
                && let Err(e) = objects.delete(name).await
            {
                debug!(object = %name, error = %e, "federation: cannot remove a received body");
            }
        }
        Err(ReceiveError::Invalid(why)) => {
            warn!(message_id = %env.id, error = %why, "federation: message rejected");
            reject(s, &m, Reject::BadContent, Some(env.id)).await;
        }
        Err(e) => {
            warn!(message_id = %env.id, error = %e, "federation: cannot store a message yet");
            let _ = m
                .ack_with(AckKind::Nak(Some(Duration::from_secs(10))))
                .await;
        }
    }
}

/// Counts and terminates a message that can never be stored: it is not delivered again.
async fn reject(s: &Shared, m: &async_nats::jetstream::Message, why: Reject, id: Option<Uuid>) {
    s.core.federation().reject(why);
    warn!(subject = %m.subject, message_id = ?id, kind = why.label(), "federation: message from the stream rejected");
    if let Err(e) = m.ack_with(AckKind::Term).await {
        warn!(error = %e, "federation: cannot terminate a rejected message");
    }
}

enum Fetch {
    Reject(Reject),
    Later(String),
}

async fn fetch_object(
    objects: &object_store::ObjectStore,
    name: &str,
    max: u64,
) -> Result<Vec<u8>, Fetch> {
    let info = match objects.info(name).await {
        Ok(i) => i,
        Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {
            return Err(Fetch::Reject(Reject::Malformed));
        }
        Err(e) => return Err(Fetch::Later(e.to_string())),
    };
    if info.size as u64 > max {
        return Err(Fetch::Reject(Reject::Oversized));
    }
    let mut object = objects
        .get(name)
        .await
        .map_err(|e| Fetch::Later(e.to_string()))?;
    let mut body = Vec::with_capacity(info.size);
    (&mut object)
        .take(max + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| Fetch::Later(e.to_string()))?;
    if body.len() as u64 > max {
        return Err(Fetch::Reject(Reject::Oversized));
    }
    Ok(body)
}
