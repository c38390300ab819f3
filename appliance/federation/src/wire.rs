//! A message between sites as it travels on the stream: NATS headers naming it, and a body
//! sealed under the federation key.
//!
//! Headers (all required):
//!
//! | header | value |
//! | --- | --- |
//! | `Nats-Msg-Id` | `<message id>.<to site>`: JetStream drops a second publish of it within its duplicate window |
//! | `Offhook-Id` | the message's GUID |
//! | `Offhook-From` | the sending site |
//! | `Offhook-To` | the receiving site (also the subject's last token) |
//!
//! The body is a [`codecs::seal`] envelope (AES-256-GCM in chunks) whose associated data is
//! [`aad`]: the id and both sites, so a body moved to another message, or headers rewritten to
//! another site, do not open. Inside:
//!
//! ```text
//! "OHF1" | u32 BE header length | header (JSON, ≤ 1 MiB) | audio | attachment 0 | attachment 1 | …
//! ```
//!
//! The JSON header names the sender, the recipients (bare names at the receiving site), the
//! creation time, the duration, and the length of the audio and of each attachment; the lengths
//! must add up to the body exactly. Every length is checked before anything is allocated for
//! it, against the receiver's own limit.

use bytes::Bytes;
use codecs::seal::{self, Compression, Key};
use offhook_domain::accept::Attachment;
use offhook_domain::db::remote::{Person, valid_site};
use offhook_domain::federation::{Forward, Incoming, Reject};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The body's first bytes, inside the seal.
const MAGIC: &[u8; 4] = b"OHF1";
/// The longest JSON header taken (16,384 recipients of 32-character names fit).
pub const MAX_HEADER: usize = 1 << 20;
/// The most recipients at one site, or attachments, one message may name. [`encode`] refuses
/// more, as [`decode`] would: a message that left could never be taken.
pub const MAX_ITEMS: usize = 16_384;

/// The headers' names.
pub mod header {
    /// JetStream's de-duplication id.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// The message's GUID.
    pub const ID: &str = "Offhook-Id";
    /// The sending site.
    pub const FROM: &str = "Offhook-From";
    /// The receiving site.
    pub const TO: &str = "Offhook-To";
    /// Set when the sealed body is in the object store under this name (a body over the
    /// server's payload limit); the message's own body is then empty.
    pub const OBJECT: &str = "Offhook-Object";
}

/// The subject of messages for `site`.
pub fn subject(site: &str) -> String {
    format!("offhook.msg.{site}")
}

/// The associated data a body is sealed with.
pub fn aad(id: Uuid, from: &str, to: &str) -> Vec<u8> {
    let mut a = b"offhook-federation/1\0".to_vec();
    a.extend_from_slice(id.as_bytes());
    a.extend_from_slice(from.as_bytes());
    a.push(0);
    a.extend_from_slice(to.as_bytes());
    a
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    sender: Person,
    to: Vec<String>,
    created_ms: i64,
    duration_ms: u64,
    audio_len: u64,
    attachments: Vec<AttHead>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AttHead {
    name: String,
    content_type: String,
    len: u64,
}

/// The headers of one message: `(name, value)` pairs.
pub type Headers = Vec<(&'static str, String)>;

/// Builds the headers and sealed body of `m` from site `from` for site `to`.
pub fn encode(key: &Key, m: &Forward, from: &str, to: &str) -> Result<(Headers, Vec<u8>), String> {
    let id = m.meta.id;
    if m.meta.to.len() > MAX_ITEMS || m.attachments.len() > MAX_ITEMS {
        return Err(format!(
            "message {id}: {} recipients at {to} and {} attachments; at most {MAX_ITEMS} of each",
            m.meta.to.len(),
            m.attachments.len()
        ));
    }
    let head = Head {
        sender: m.meta.sender.clone(),
        to: m.meta.to.clone(),
        created_ms: m.meta.created_ms,
        duration_ms: m.meta.duration_ms,
        audio_len: m.audio.len() as u64,
        attachments: m
            .attachments
            .iter()
            .map(|a| AttHead {
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                len: a.data.len() as u64,
            })
            .collect(),
    };
    let json = serde_json::to_vec(&head).map_err(|e| e.to_string())?;
    if json.len() > MAX_HEADER {
        return Err(format!("message {id}: its header is {} bytes", json.len()));
    }
    let total = m.attachments.iter().map(|a| a.data.len()).sum::<usize>() + m.audio.len();
    let mut plain = Vec::with_capacity(8 + json.len() + total);
    plain.extend_from_slice(MAGIC);
    plain.extend_from_slice(&(json.len() as u32).to_be_bytes());
    plain.extend_from_slice(&json);
    plain.extend_from_slice(&m.audio);
    for a in &m.attachments {
        plain.extend_from_slice(&a.data);
    }
    let body = seal::seal(key, &aad(id, from, to), &plain, Compression::None)
        .map_err(|e| e.to_string())?;
    let headers = vec![
        (header::MSG_ID, format!("{id}.{to}")),
        (header::ID, id.to_string()),
        (header::FROM, from.to_owned()),
        (header::TO, to.to_owned()),
    ];
    Ok((headers, body))
}

/// What the headers of a message on the stream say, checked: its id and sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The message's GUID.
    pub id: Uuid,
    /// The sending site.
    pub from: String,
    /// The object holding the body, if it is not in the message.
    pub object: Option<String>,
}

/// Reads the headers (`get` looks one up) of a message received by site `me`.
pub fn envelope<'a>(me: &str, get: impl Fn(&str) -> Option<&'a str>) -> Result<Envelope, Reject> {
    let id = get(header::ID)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Reject::Malformed)?;
    let from = get(header::FROM).ok_or(Reject::Malformed)?;
    let to = get(header::TO).ok_or(Reject::Malformed)?;
    if !valid_site(from) || !valid_site(to) {
        return Err(Reject::Malformed);
    }
    if to != me || from == me {
        return Err(Reject::WrongSite);
    }
    let object = get(header::OBJECT).map(str::to_owned);
    Ok(Envelope {
        id,
        from: from.to_owned(),
        object,
    })
}

/// Opens `body` (sealed for site `me`, as [`envelope`] read its headers) into the message to
/// store, refusing a body over `max` bytes before opening it.
pub fn decode(
    key: &Key,
    me: &str,
    env: &Envelope,
    body: &[u8],
    max: u64,
) -> Result<Incoming, Reject> {
    if body.len() as u64 > max {
        return Err(Reject::Oversized);
    }
    let plain =
        seal::open(key, &aad(env.id, &env.from, me), body, max).map_err(|_| Reject::BadSeal)?;
    let rest = plain.strip_prefix(MAGIC).ok_or(Reject::Malformed)?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or(Reject::Malformed)?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_HEADER || len > rest.len() {
        return Err(Reject::Malformed);
    }
    let (json, rest) = rest.split_at(len);
    let head: Head = serde_json::from_slice(json).map_err(|_| Reject::Malformed)?;
    if head.to.len() > MAX_ITEMS || head.attachments.len() > MAX_ITEMS {
        return Err(Reject::Malformed);
    }
    // Every length adds up to what is left, exactly.
    let sum = head
        .attachments
        .iter()
        .try_fold(head.audio_len, |n, a| n.checked_add(a.len))
        .ok_or(Reject::Malformed)?;
    if sum != rest.len() as u64 {
        return Err(Reject::Malformed);
    }
    let rest_len = rest.len();
    let plain = Bytes::from(plain);
    let start = plain.len() - rest_len;
    let audio_end = start + head.audio_len as usize;
    let audio = plain.slice(start..audio_end);
    let mut at = audio_end;
    let mut attachments = Vec::with_capacity(head.attachments.len());
    for a in head.attachments {
        let end = at + a.len as usize;
        attachments.push(Attachment {
            name: a.name,
            content_type: a.content_type,
            data: plain.slice(at..end),
        });
        at = end;
    }
    Ok(Incoming {
        id: env.id,
        site: env.from.clone(),
        sender: head.sender,
        to: head.to,
        created_ms: head.created_ms,
        duration_ms: head.duration_ms,
        audio,
        attachments,
    })
}

#[cfg(test)]
mod tests;
