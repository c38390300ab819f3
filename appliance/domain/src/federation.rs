//! The core's side of federation (issue 24): the rules the federation front end (the
//! `offhook-federation` crate, which speaks NATS) goes through, and the link's state for
//! `/api/v1/health` and `/metrics`.
//!
//! - **Directory.** Each site's users are recorded here as remote users ([`db::remote`]):
//!   recipients are resolved, contacts listed and presence shown from the local database, so
//!   none of that waits on the network.
//! - **Forwarding.** A message with recipients at other sites is accepted and stored here as
//!   any other; storing it also writes one outbox entry per site. Once it is transcoded the
//!   front end reads it ([`VoiceMessaging::outgoing`]), hands it to JetStream, and on the
//!   stream's acknowledgement calls [`VoiceMessaging::forwarded`]. Nothing is removed before
//!   that acknowledgement, so a crash at any point forwards it again (JetStream's
//!   de-duplication and [`VoiceMessaging::receive`] make that harmless).
//! - **Receiving.** [`VoiceMessaging::receive`] stores a message from another site durably
//!   (files fsynced, then the row and the received id in one transaction) before the front end
//!   acknowledges it to the stream; a message received before is recognised by its id and
//!   stored once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use tracing::{info, warn};
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::accept::{Attachment, attachment_aad, remove_files};
use crate::audio as media;
use crate::db::messages::{self as store, NewAttachment, NewMessage, Status as Stored};
use crate::db::remote::{self, Outgoing, Person};
use crate::db::{self};
use crate::limits;

/// The largest Opus file taken from another site (a message of `messages.max_duration` at the
/// stored bit rate is far smaller).
pub const MAX_AUDIO: u64 = 64 << 20;

/// Why a rejected message from another site was rejected, counted by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reject {
    /// Not a message of ours: headers or body do not parse.
    Malformed,
    /// Addressed to another site, or from this one.
    WrongSite,
    /// Its seal does not open under the federation key: forged or corrupted.
    BadSeal,
    /// Larger than this site takes.
    Oversized,
    /// Its audio is not Ogg Opus, or a name or id in it is invalid.
    BadContent,
}

impl Reject {
    const ALL: [Self; 5] = [
        Self::Malformed,
        Self::WrongSite,
        Self::BadSeal,
        Self::Oversized,
        Self::BadContent,
    ];

    /// Its label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::WrongSite => "wrong_site",
            Self::BadSeal => "bad_seal",
            Self::Oversized => "oversized",
            Self::BadContent => "bad_content",
        }
    }
}

/// The federation link as `/api/v1/health` and `/metrics` show it. Off (and shown nowhere)
/// until the front end starts.
#[derive(Debug, Default)]
pub struct Status {
    site: Mutex<Option<String>>,
    connected: AtomicBool,
    /// Each other site and when its appliance last published (ms since the epoch).
    sites: Mutex<BTreeMap<String, i64>>,
    /// The users of other sites online now, with the status each set.
    remote: Mutex<HashMap<Uuid, Option<String>>>,
    /// Every user of another site, with their site and bare name (for live audio, looked up
    /// per buffer).
    people: Mutex<HashMap<Uuid, (String, String)>>,
    /// Where live buffers for users of other sites go (the front end's relay).
    live: Mutex<Option<tokio::sync::mpsc::Sender<LiveOut>>>,
    /// Live buffers sent to other sites, and dropped because the relay was full.
    pub live_sent: AtomicU64,
    /// Live buffers from other sites passed to sessions here.
    pub live_received: AtomicU64,
    /// Live buffers dropped (the relay full or the link down).
    pub live_dropped: AtomicU64,
    /// Messages handed to JetStream and acknowledged by it.
    pub published: AtomicU64,
    /// Messages from other sites stored here.
    pub received: AtomicU64,
    /// Messages from other sites delivered again (an earlier delivery was not acknowledged).
    pub redelivered: AtomicU64,
    /// Messages from other sites already stored here (acknowledged again, not stored).
    pub duplicates: AtomicU64,
    /// Messages from other sites with no recipient here.
    pub no_recipient: AtomicU64,
    /// Messages that could not be forwarded (their audio was removed before they left).
    pub dropped: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
}

impl Status {
    /// Federation runs, as site `site`.
    pub fn enable(&self, site: &str) {
        *self.site.lock().unwrap_or_else(|p| p.into_inner()) = Some(site.to_owned());
    }

    /// This site's name, when federation runs.
    pub fn site(&self) -> Option<String> {
        self.site.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The link to NATS is up or down.
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    /// Whether the link to NATS is up.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Site `site` published at `at_ms`.
    pub fn seen(&self, site: &str, at_ms: i64) {
        let mut sites = self.sites.lock().unwrap_or_else(|p| p.into_inner());
        let last = sites.entry(site.to_owned()).or_insert(at_ms);
        *last = (*last).max(at_ms);
    }

    /// Every other site known, with when it last published.
    pub fn sites(&self) -> Vec<(String, i64)> {
        let sites = self.sites.lock().unwrap_or_else(|p| p.into_inner());
        sites.iter().map(|(s, t)| (s.clone(), *t)).collect()
    }

    /// Whether remote user `user` is online.
    pub fn remote_online(&self, user: Uuid) -> bool {
        let remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        remote.contains_key(&user)
    }

    /// The status remote user `user` set, while online.
    pub fn remote_status(&self, user: Uuid) -> Option<String> {
        let remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        remote.get(&user).cloned().flatten()
    }

    fn set_remote(&self, user: Uuid, online: bool, status: Option<String>) {
        let mut remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        if online {
            remote.insert(user, status);
        } else {
            remote.remove(&user);
        }
    }

    /// Counts a rejected message.
    pub fn reject(&self, why: Reject) {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// How many messages were rejected for `why`.
    pub fn rejected(&self, why: Reject) -> u64 {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].load(Ordering::Relaxed)
    }

    /// The counters in the Prometheus text format, with `pending` (the outbox's length) as a
    /// gauge; nothing when federation does not run.
    pub fn render(&self, out: &mut String, pending: u64) {
        use std::fmt::Write as _;
        if self.site().is_none() {
            return;
        }
        let counters = [
            (
                "offhook_federation_published_total",
                "Messages handed to another site's stream and acknowledged by JetStream.",
                &self.published,
            ),
            (
                "offhook_federation_received_total",
                "Messages from other sites stored here.",
                &self.received,
            ),
            (
                "offhook_federation_redelivered_total",
                "Messages from other sites delivered by JetStream more than once.",
                &self.redelivered,
            ),
            (
                "offhook_federation_duplicates_total",
                "Messages from other sites already stored here (acknowledged, not stored again).",
                &self.duplicates,
            ),
            (
                "offhook_federation_no_recipient_total",
                "Messages from other sites naming no user of this site.",
                &self.no_recipient,
            ),
            (
                "offhook_federation_dropped_total",
                "Messages that could not be forwarded (their audio was removed first).",
                &self.dropped,
            ),
            (
                "offhook_federation_live_sent_total",
                "Live intercom buffers sent to users of other sites.",
                &self.live_sent,
            ),
            (
                "offhook_federation_live_received_total",
                "Live intercom buffers from other sites passed to sessions here.",
                &self.live_received,
            ),
            (
                "offhook_federation_live_dropped_total",
                "Live intercom buffers for other sites dropped (relay full or link down); the stored copy follows.",
                &self.live_dropped,
            ),
        ];
        for (name, help, v) in counters {
            let v = v.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let name = "offhook_federation_rejected_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages from the stream rejected, by kind.\n# TYPE {name} counter"
        );
        for r in Reject::ALL {
            let _ = writeln!(out, "{name}{{kind=\"{}\"}} {}", r.label(), self.rejected(r));
        }
        let name = "offhook_federation_pending";
        let _ = writeln!(
            out,
            "# HELP {name} Messages for other sites not yet acknowledged by JetStream.\n# TYPE {name} gauge\n{name} {pending}"
        );
        let name = "offhook_federation_connected";
        let _ = writeln!(
            out,
            "# HELP {name} 1 while the link to NATS is up.\n# TYPE {name} gauge\n{name} {}",
            u8::from(self.connected())
        );
    }
}

/// One live intercom buffer (or a stream's end) for the users of one other site.
#[derive(Debug, Clone)]
pub struct LiveOut {
    /// Their site.
    pub site: String,
    /// The speaker (a user of this site).
    pub from: Uuid,
    /// The speaker's name here.
    pub from_name: String,
    /// The recipients at that site, by their bare names.
    pub to: Vec<String>,
    /// The `send` object as local sessions get it (`stream`, `seq`, `pcm`, `ms`, `end`, and
    /// `cut`); its `from` is set by the receiving site.
    pub object: serde_json::Value,
}

/// A message to forward, opened: its audio and attachments in clear.
#[derive(Debug)]
pub struct Forward {
    /// What the database holds of it.
    pub meta: Outgoing,
    /// Its Ogg Opus audio.
    pub audio: Vec<u8>,
    /// Its attachments, in order.
    pub attachments: Vec<Attachment>,
}

/// A message from another site, checked by the front end (its seal opened, its site this one's).
#[derive(Debug)]
pub struct Incoming {
    /// Its GUID (the sender's site gave it).
    pub id: Uuid,
    /// The site it comes from.
    pub site: String,
    /// Its sender, a user of that site.
    pub sender: Person,
    /// Its recipients here, by their bare names.
    pub to: Vec<String>,
    /// When it was sent, ms since the epoch.
    pub created_ms: i64,
    /// Its length.
    pub duration_ms: u64,
    /// Its Ogg Opus audio.
    pub audio: Bytes,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
}

/// What [`VoiceMessaging::receive`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored for this many recipients, and delivered to those online.
    Stored(usize),
    /// Stored before: nothing done.
    Duplicate,
    /// None of its recipients is a user here: recorded as received, not stored.
    NoRecipient,
}

/// Why a message from another site could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Its content is invalid (the sending site's fault): reject it.
    #[error("{0}")]
    Invalid(String),
    /// The disk is down to its reserve: try again later.
    #[error("{0}")]
    DiskFull(limits::DiskFull),
    /// Storage failed: try again later.
    #[error("{0}")]
    Db(#[from] db::Error),
}

impl VoiceMessaging {
    /// Live buffers for users of other sites go to `relay` from now on (at most as many waiting
    /// as it holds; beyond that they are dropped and counted: live audio does not wait, and the
    /// stored copy follows).
    pub async fn set_live_relay(
        &self,
        relay: tokio::sync::mpsc::Sender<LiveOut>,
    ) -> Result<(), db::Error> {
        let people = self.0.db.read(remote::all).await?;
        {
            let mut map = self
                .0
                .federation
                .people
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *map = people
                .into_iter()
                .map(|(id, site, name)| (id, (site, name)))
                .collect();
        }
        *self
            .0
            .federation
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(relay);
        Ok(())
    }

    /// Sends live `object` from `from` to those of `to` who are users of other sites, one
    /// relay item per site. Nothing happens without federation.
    pub(crate) fn relay_live(&self, from: (Uuid, &str), to: &[Uuid], object: &serde_json::Value) {
        let status = &self.0.federation;
        let Some(relay) = status
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return;
        };
        let mut sites: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let people = status.people.lock().unwrap_or_else(|p| p.into_inner());
            for r in to {
                if let Some((site, name)) = people.get(r) {
                    sites.entry(site.clone()).or_default().push(name.clone());
                }
            }
        }
        for (site, to) in sites {
            let item = LiveOut {
                site,
                from: from.0,
                from_name: from.1.to_owned(),
                to,
                object: object.clone(),
            };
            if relay.try_send(item).is_ok() {
                status.live_sent.fetch_add(1, Ordering::Relaxed);
            } else {
                status.live_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Passes a live buffer from `from` (a user of another site, `name@site`) to the online
    /// sessions of `to` here.
    pub fn live_from_site(&self, from: (Uuid, &str), to: &[Uuid], object: serde_json::Value) {
        for r in to {
            let text: std::sync::Arc<str> = crate::messaging::MessageObject::new(
                crate::messaging::Action::Send,
                from.0,
                *r,
                object.clone(),
            )
            .to_text()
            .into();
            self.0.clients.notify(*r, text);
        }
        self.0
            .federation
            .live_received
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The local users among `names`, as `(name, id)` (for live audio from another site).
    pub async fn local_users(&self, names: Vec<String>) -> Result<Vec<(String, Uuid)>, db::Error> {
        self.0
            .db
            .read(move |c| remote::local_users(c, &names))
            .await
    }

    /// The federation link's state.
    pub fn federation(&self) -> &Status {
        &self.0.federation
    }

    /// The local users, as this site's directory publishes them.
    pub async fn local_people(&self) -> Result<Vec<Person>, db::Error> {
        self.0.db.read(remote::local_people).await
    }

    /// Site `site`'s directory lists `people`: its users here become exactly those. Users of
    /// this site are never touched.
    pub async fn set_site_directory(
        &self,
        site: String,
        people: Vec<Person>,
    ) -> Result<(), db::Error> {
        let now = self.0.clock.now_ms();
        let people: Vec<Person> = people
            .into_iter()
            .filter(|p| db::users::valid_username(&p.name))
            .collect();
        let n = people.len();
        let cache: Vec<(Uuid, String)> = people.iter().map(|p| (p.id, p.name.clone())).collect();
        let s = site.clone();
        let removed = self
            .0
            .db
            .write(move |c| remote::set_site(c, &s, &people, now))
            .await?;
        {
            let mut map = self
                .0
                .federation
                .people
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.retain(|_, (s, _)| *s != site);
            map.extend(
                cache
                    .into_iter()
                    .map(|(id, name)| (id, (site.clone(), name))),
            );
        }
        info!(users = n, removed, "site directory updated");
        Ok(())
    }

    /// Remote user `user` came online or went offline: the database records it and the
    /// subscribed sessions are told. Returns false if no such remote user is known (yet).
    pub async fn remote_presence(
        &self,
        user: Uuid,
        online: bool,
        status: Option<String>,
    ) -> Result<bool, db::Error> {
        let name = self
            .0
            .db
            .write(move |c| remote::set_online(c, user, online))
            .await?;
        let known = name.is_some();
        if let Some(name) = name {
            self.0.federation.set_remote(user, online, status.clone());
            self.0
                .clients
                .broadcast_presence(user, &name, online, status.as_deref());
        }
        Ok(known)
    }

    /// Site `site` stopped publishing: its users are shown offline.
    pub async fn site_gone(&self, site: String) -> Result<(), db::Error> {
        let went = self
            .0
            .db
            .write(move |c| remote::site_offline(c, &site))
            .await?;
        for (user, name) in went {
            self.0.federation.set_remote(user, false, None);
            self.0.clients.broadcast_presence(user, &name, false, None);
        }
        Ok(())
    }

    /// Up to `limit` `(message, site)` pairs to forward, oldest first.
    pub async fn outbox(&self, limit: usize) -> Result<Vec<(Uuid, String)>, db::Error> {
        // Looked at every few seconds: an empty outbox costs a read, not a commit.
        if self.outbox_len().await? == 0 {
            return Ok(Vec::new());
        }
        self.0.db.write(move |c| remote::outbox(c, limit)).await
    }

    /// How many `(message, site)` pairs wait to be forwarded.
    pub async fn outbox_len(&self) -> Result<u64, db::Error> {
        self.0.db.read(remote::outbox_len).await
    }

    /// Message `id` as forwarded to `site`, opened; `None` if it is no longer to be forwarded
    /// there. A message whose audio retention removed before it could leave is dropped from the
    /// outbox here (counted), and `None` returned.
    pub async fn outgoing(&self, id: Uuid, site: String) -> Result<Option<Forward>, db::Error> {
        let s = site.clone();
        let Some(meta) = self.0.db.read(move |c| remote::outgoing(c, id, &s)).await? else {
            return Ok(None);
        };
        let Some(audio_file) = meta.audio_file.clone() else {
            warn!(message_id = %id, site = %site, "message not forwarded: its audio was removed");
            self.0.federation.dropped.fetch_add(1, Ordering::Relaxed);
            self.forwarded(id, site).await?;
            return Ok(None);
        };
        let (dir, key) = (self.0.db.paths().media.clone(), self.0.key.clone());
        let opened = tokio::task::spawn_blocking(move || {
            let bad = |e: String| db::Error::Io(std::io::Error::other(e));
            let sealed = std::fs::read(dir.join(&audio_file))?;
            let audio = codecs::seal::open(key.key(), id.as_bytes(), &sealed, MAX_AUDIO)
                .map_err(|e| bad(format!("message {id}: {e}")))?;
            let mut attachments = Vec::new();
            for (n, (name, content_type, file)) in meta.attachments.iter().enumerate() {
                let sealed = std::fs::read(dir.join(file))?;
                let data = media::open_attachment(&key, &attachment_aad(id, n), &sealed)
                    .map_err(|e| bad(e.to_string()))?;
                attachments.push(Attachment {
                    name: name.clone(),
                    content_type: content_type.clone(),
                    data: data.into(),
                });
            }
            Ok::<_, db::Error>(Forward {
                meta,
                audio,
                attachments,
            })
        })
        .await
        .map_err(|e| db::Error::Io(std::io::Error::other(e)))??;
        Ok(Some(opened))
    }

    /// Message `id` was handed to `site`'s stream and acknowledged there (see
    /// [`remote::forwarded`]).
    pub async fn forwarded(&self, id: Uuid, site: String) -> Result<(), db::Error> {
        let files = self
            .0
            .db
            .write(move |c| remote::forwarded(c, id, &site))
            .await?;
        if !files.is_empty() {
            remove_files(self, files);
        }
        Ok(())
    }

    /// Stores message `m` from another site for its recipients here, durably, then delivers it
    /// as a local message is once transcoded (to the sessions online, and to the phones). The
    /// caller acknowledges it to the stream only after this returns `Ok`.
    pub async fn receive(&self, m: Incoming) -> Result<Received, ReceiveError> {
        let id = m.id;
        if !remote::valid_site(&m.site) || !db::users::valid_username(&m.sender.name) {
            return Err(ReceiveError::Invalid("invalid site or sender name".into()));
        }
        if !m.audio.starts_with(b"OggS") {
            return Err(ReceiveError::Invalid("the audio is not Ogg Opus".into()));
        }
        if self.0.db.read(move |c| remote::was_received(c, id)).await? {
            return Ok(Received::Duplicate);
        }
        let to = m.to.clone();
        let local = self.0.db.read(move |c| remote::local_users(c, &to)).await?;
        let now = self.0.clock.now_ms();
        if local.is_empty() {
            self.0
                .db
                .write(move |c| remote::mark_received(c, id, now))
                .await?;
            return Ok(Received::NoRecipient);
        }
        // The files first (fsynced), then the row that names them.
        let (dir, key, reserve) = (
            self.0.db.paths().media.clone(),
            self.0.key.clone(),
            self.0.config.disk_reserve,
        );
        let (audio, attachments) = (m.audio.clone(), m.attachments);
        let size = attachments.iter().fold(audio.len() as u64, |n, a| {
            n.saturating_add(a.data.len() as u64)
        });
        let written = tokio::task::spawn_blocking(move || {
            if let Err(full) = limits::check_disk(&dir, reserve, size)? {
                return Ok(Err(full));
            }
            let audio_file = format!("{id}.audio");
            let sealed =
                media::seal_raw(&audio[..], &key, id, Vec::with_capacity(audio.len() + 4096))
                    .map_err(|e| db::Error::Io(std::io::Error::other(e.to_string())))?;
            db::write_file(&dir, &audio_file, &sealed)?;
            let mut atts = Vec::new();
            for (n, a) in attachments.iter().enumerate() {
                let file = format!("{id}.{n}.att");
                let sealed = media::seal_attachment(&key, &attachment_aad(id, n), &a.data)
                    .map_err(|e| db::Error::Io(std::io::Error::other(e.to_string())))?;
                db::write_file(&dir, &file, &sealed)?;
                atts.push(NewAttachment {
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    file,
                    bytes: a.data.len() as u64,
                });
            }
            Ok::<_, db::Error>(Ok((audio_file, sealed.len() as u64, atts)))
        })
        .await
        .map_err(|e| db::Error::Io(std::io::Error::other(e)))??;
        let (audio_file, audio_bytes, atts) = written.map_err(ReceiveError::DiskFull)?;
        let recipients: Vec<Uuid> = local.iter().map(|(_, u)| *u).collect();
        let files: Vec<String> = std::iter::once(audio_file.clone())
            .chain(atts.iter().map(|a| a.file.clone()))
            .collect();
        let msg = NewMessage {
            id,
            sender: m.sender.id,
            recipients: recipients.clone(),
            created_ms: m.created_ms,
            duration_ms: m.duration_ms,
            codec: "opus".to_owned(),
            status: Stored::Ready,
            audio_file,
            raw_offset: None,
            audio_bytes,
            attachments: atts,
        };
        let (site, sender) = (m.site.clone(), m.sender.clone());
        let stored = self
            .0
            .db
            .write(move |c| {
                if remote::was_received(c, id)? {
                    return Ok(false);
                }
                remote::upsert(c, &site, &sender, now)?;
                store::insert(c, &msg)?;
                remote::mark_received(c, id, now)?;
                Ok(true)
            })
            .await;
        let stored = match stored {
            Ok(s) => s,
            // The sender's GUID is a user of this site's: it never will be stored.
            Err(db::Error::Invalid(why)) => {
                remove_files(self, files);
                return Err(ReceiveError::Invalid(why));
            }
            Err(e) => {
                remove_files(self, files);
                return Err(e.into());
            }
        };
        if !stored {
            // The files just written are copies of the stored message's own (same names, same
            // key and id): nothing to remove.
            return Ok(Received::Duplicate);
        }
        let n = recipients.len();
        self.announce_ready(id, m.sender.id, recipients).await?;
        info!(message_id = %id, site = %m.site, recipients = n, "message received from another site");
        Ok(Received::Stored(n))
    }
}
