//! Intercom: a message spoken live to online users, buffer by buffer, over `/api/v1/ws`, and
//! stored as a normal message when it ends.
//!
//! # Wire format
//!
//! Audio is 16-bit little-endian mono PCM at 8 kHz, base64 (RFC 4648 §4, padded) in `pcm`. A
//! client sends one buffer per `send` message object (20 ms by default, the last one shorter):
//!
//! ```json
//! {"action": "send", "id": "…", "source": "<sender GUID>", "destination": "<nil>",
//!  "object": {"stream": "9f2c01ab", "seq": 0, "to": ["bob", "carol"], "pcm": "…", "end": false}}
//! ```
//!
//! - `stream`: chosen by the client, 1 to [`MAX_STREAM_ID`] hex digits, unique among its session's
//!   open streams.
//! - `seq`: 0 for the first buffer, then consecutive. A buffer out of order is refused (the stream
//!   stays open and still expects the same `seq`).
//! - `to`: recipient usernames; required on the first buffer, ignored on the others.
//! - `pcm`: at most [`MAX_BUFFER_MS`] of audio (an even number of bytes); may be empty.
//! - `end`: true on the last buffer.
//!
//! Every online session of every recipient gets each buffer at once, before it is written to
//! disk, as
//!
//! ```json
//! {"action": "send", "source": "<sender GUID>", "destination": "<recipient GUID>",
//!  "object": {"stream": "9f2c01ab", "seq": 0, "from": "alice", "pcm": "…", "ms": 20, "end": false}}
//! ```
//!
//! If the sender's session closes mid-stream (a hang-up), or the stream reaches
//! `messages.max_duration`, the recipients get a last object with empty `pcm`, `ms: 0`,
//! `end: true` and `cut: true`.
//!
//! Meanwhile the buffers are appended to a WAV file under `DATA/live/` by a writer task, so the
//! session never waits on the disk. When the stream ends (by `end`, by the session closing, or
//! at `max_duration`) the file is stored through [`crate::accept`] as a message to every
//! recipient, online or not, and the sender's session is told
//! `{"action": "send", "object": {"stream": "9f2c01ab", "stored": "<message id>", "ms": 2000}}`
//! (or `{"stream", "error"}`). The stored message then reaches each recipient as a normal `post`
//! once transcoded; its object carries `"stream": "9f2c01ab"`, so a client that heard the
//! stream live can treat it as heard. A recipient's phone that played the stream to its end
//! marks the stored copy played and does not ring for it (`Input::LiveStored`).
//!
//! A refused buffer is answered `{"action": "send", "id": <the buffer's id>, "object": {"error",
//! "stream"?, "seq"?}}` and counted in `/metrics` (`offhook_rejected_total{kind="intercom_…"}`,
//! or `unknown_recipient`); the session carries on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use codecs::wav::WavWriter;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::accept::{self, Audio};
use crate::api::App;
use crate::clients::SessionId;
use crate::db::users;
use crate::messaging::{Action, MessageObject};
use crate::metrics::Reject;

/// Samples per second of intercom audio.
pub const SAMPLE_RATE: u32 = 8000;
/// Longest buffer accepted.
pub const MAX_BUFFER_MS: u64 = 1000;
/// Largest decoded `pcm`, in bytes.
pub const MAX_PCM_BYTES: usize = (MAX_BUFFER_MS as usize) * (SAMPLE_RATE as usize) / 1000 * 2;
/// Longest `stream` id, in hex digits.
pub const MAX_STREAM_ID: usize = 32;
/// Streams one session may have open at once.
pub const MAX_STREAMS: usize = 4;
/// Recipients of one stream.
pub const MAX_RECIPIENTS: usize = 64;
/// Buffers queued for a stream's writer before the session waits for the disk (about 5 s of
/// 20 ms buffers; at most [`MAX_PCM_BYTES`] each).
const WRITE_QUEUE: usize = 256;

/// A client-chosen stream id (hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamId(String);

impl StreamId {
    /// Parses a stream id: 1 to [`MAX_STREAM_ID`] hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_STREAM_ID && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(s.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One buffer of a stream, as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Portion {
    /// Its stream.
    pub stream: StreamId,
    /// Its place in the stream, from 0.
    pub seq: u64,
    /// Recipient usernames (needed on the first buffer only).
    pub to: Option<Vec<String>>,
    /// The audio as received (base64), forwarded as is.
    pub pcm_b64: String,
    /// The audio.
    pub pcm: Vec<i16>,
    /// The last buffer.
    pub end: bool,
}

impl Portion {
    /// Parses a `send` object. Size limits are checked before decoding.
    pub fn parse(object: &Value) -> Result<Self, Error> {
        let malformed = |field, reason: &str| Error::Malformed {
            field,
            reason: reason.to_owned(),
        };
        let stream = object
            .get("stream")
            .and_then(Value::as_str)
            .and_then(StreamId::parse)
            .ok_or_else(|| malformed("stream", "must be 1 to 32 hex digits"))?;
        let seq = object
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("seq", "must be a non-negative integer"))?;
        let to = match object.get("to") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) if list.len() <= MAX_RECIPIENTS => Some(
                list.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| malformed("to", "must be a list of usernames"))?,
            ),
            Some(_) => return Err(malformed("to", "must be a list of at most 64 usernames")),
        };
        let pcm_b64 = match object.get("pcm") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(malformed("pcm", "must be a base64 string")),
        };
        // Base64 carries 3 bytes in 4 characters: refuse before decoding anything large.
        if pcm_b64.len() > MAX_PCM_BYTES.div_ceil(3) * 4 {
            return Err(Error::TooBig {
                bytes: pcm_b64.len() / 4 * 3,
            });
        }
        let bytes = BASE64
            .decode(pcm_b64.as_bytes())
            .map_err(|e| malformed("pcm", &format!("not base64: {e}")))?;
        if bytes.len() > MAX_PCM_BYTES {
            return Err(Error::TooBig { bytes: bytes.len() });
        }
        if bytes.len() % 2 != 0 {
            return Err(malformed("pcm", "odd number of bytes: not 16-bit samples"));
        }
        let pcm = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let end = match object.get("end") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(malformed("end", "must be a boolean")),
        };
        Ok(Self {
            stream,
            seq,
            to,
            pcm_b64,
            pcm,
            end,
        })
    }

    /// Its duration in milliseconds (rounded down).
    pub fn ms(&self) -> u64 {
        self.pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// Why a buffer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// A field is missing or invalid.
    #[error("object.{field} {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `pcm` is over [`MAX_PCM_BYTES`].
    #[error("pcm holds {bytes} bytes; a buffer holds at most {MAX_PCM_BYTES} ({MAX_BUFFER_MS} ms)")]
    TooBig {
        /// Its size.
        bytes: usize,
    },
    // ---- peer protocol violations ----
    /// `seq` is not the next one.
    #[error("seq {got} out of order: expected {expected}")]
    OutOfOrder {
        /// The one expected.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// A new stream while [`MAX_STREAMS`] are open.
    #[error("too many open streams: at most {MAX_STREAMS} per session")]
    TooManyStreams,
    /// The stream reached `messages.max_duration`; it was ended and stored without this buffer.
    #[error("stream longer than {max_ms} ms: ended and stored without this buffer")]
    TooLong {
        /// The limit.
        max_ms: u64,
    },
    /// A recipient that does not exist.
    #[error("unknown recipient {0:?}")]
    UnknownRecipient(String),
}

impl Error {
    /// The `/metrics` kind it counts as.
    pub fn reject(&self) -> Reject {
        match self {
            Self::Malformed { .. } => Reject::IntercomMalformed,
            Self::TooBig { .. } => Reject::IntercomTooBig,
            Self::OutOfOrder { .. } => Reject::IntercomOutOfOrder,
            Self::TooManyStreams => Reject::IntercomTooManyStreams,
            Self::TooLong { .. } => Reject::IntercomTooLong,
            Self::UnknownRecipient(_) => Reject::UnknownRecipient,
        }
    }
}

/// An open stream.
#[derive(Debug)]
pub struct Stream {
    recipients: Vec<Uuid>,
    next_seq: u64,
    frames: u64,
    recorder: Recorder,
    /// The stream as the recipients' phones play it (rung, buffered, then live), if any of
    /// them has a phone.
    phones: Option<station_manager::StreamId>,
}

/// What [`Streams::check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The first buffer of a new stream, to these usernames (to be resolved).
    Open(Vec<String>),
    /// The next buffer of an open stream.
    Next,
}

/// One session's open streams (the plain state machine; [`handle`] drives it), and the ended
/// ones still being stored.
#[derive(Debug)]
pub struct Streams {
    open: HashMap<StreamId, Stream>,
    max_frames: u64,
    storing: JoinSet<()>,
}

impl Streams {
    /// No streams; each may last `max_ms`.
    pub fn new(max_ms: u64) -> Self {
        Self {
            open: HashMap::new(),
            max_frames: max_ms.saturating_mul(u64::from(SAMPLE_RATE)) / 1000,
            storing: JoinSet::new(),
        }
    }

    /// Checks a buffer against the open streams, without changing them.
    pub fn check(&self, p: &Portion) -> Result<Check, Error> {
        let Some(s) = self.open.get(&p.stream) else {
            if p.seq != 0 {
                return Err(Error::OutOfOrder {
                    expected: 0,
                    got: p.seq,
                });
            }
            if self.open.len() >= MAX_STREAMS {
                return Err(Error::TooManyStreams);
            }
            let mut to = match &p.to {
                Some(to) if !to.is_empty() => to.clone(),
                _ => {
                    return Err(Error::Malformed {
                        field: "to",
                        reason: "must name the recipients on a stream's first buffer".into(),
                    });
                }
            };
            to.sort();
            to.dedup();
            return Ok(Check::Open(to));
        };
        if p.seq != s.next_seq {
            return Err(Error::OutOfOrder {
                expected: s.next_seq,
                got: p.seq,
            });
        }
        Ok(Check::Next)
    }

    fn admit(&mut self, p: &Portion) -> Result<&mut Stream, Error> {
        let max_frames = self.max_frames;
        let Some(s) = self.open.get_mut(&p.stream) else {
            return Err(Error::OutOfOrder {
                expected: 0,
                got: p.seq,
            });
        };
        if s.frames + p.pcm.len() as u64 > max_frames {
            return Err(Error::TooLong {
                max_ms: max_frames * 1000 / u64::from(SAMPLE_RATE),
            });
        }
        s.next_seq += 1;
        s.frames += p.pcm.len() as u64;
        Ok(s)
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Appends a stream's audio to its WAV file on a writer task, so the session never waits on
/// the disk (unless [`WRITE_QUEUE`] buffers are already waiting).
#[derive(Debug)]
struct Recorder {
    tx: mpsc::Sender<Vec<i16>>,
    task: JoinHandle<std::io::Result<PathBuf>>,
}

impl Recorder {
    fn start(path: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::spawn(write_wav(path, rx));
        Self { tx, task }
    }

    /// Queues samples; a writer that already failed drops them (its error comes at finish).
    async fn push(&self, pcm: Vec<i16>) {
        let _ = self.tx.send(pcm).await;
    }

    /// Closes the file; returns its path.
    async fn finish(self) -> std::io::Result<PathBuf> {
        drop(self.tx);
        self.task.await.map_err(std::io::Error::other)?
    }
}

type Wav = WavWriter<BufWriter<File>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

async fn write_wav(path: PathBuf, mut rx: mpsc::Receiver<Vec<i16>>) -> std::io::Result<PathBuf> {
    let p = path.clone();
    let mut w: Wav = blocking(move || {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = BufWriter::new(File::create(&p)?);
        WavWriter::new(f, SAMPLE_RATE, 1, None).map_err(std::io::Error::other)
    })
    .await?;
    let result = async {
        while let Some(first) = rx.recv().await {
            // Whatever queued meanwhile goes in the same trip to the blocking pool.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            w = blocking(move || {
                for b in &batch {
                    w.write_samples(b).map_err(std::io::Error::other)?;
                }
                Ok(w)
            })
            .await?;
        }
        blocking(move || {
            let mut f = w.finish_seekable().map_err(std::io::Error::other)?;
            f.flush()
        })
        .await
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    Ok(path)
}

/// The sending session, as [`handle`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The user.
    pub user: Uuid,
    /// Their username.
    pub username: &'a str,
    /// The session.
    pub session: SessionId,
}

/// Handles one `send` object from `from`: checks it, forwards it to the recipients' sessions,
/// queues its audio for the disk, and stores the stream when it ends. Returns the refusal, if
/// any, to answer with `{error, stream, seq}`.
pub async fn handle(
    app: &App,
    from: Sender<'_>,
    streams: &mut Streams,
    object: &Value,
) -> Result<(), (Error, Value)> {
    // Reap the streams stored since.
    while streams.storing.try_join_next().is_some() {}
    let p = Portion::parse(object).map_err(|e| {
        // Echo what identifies the buffer, but never a large field back.
        let stream = object
            .get("stream")
            .and_then(Value::as_str)
            .filter(|s| s.len() <= MAX_STREAM_ID);
        let at = json!({"stream": stream, "seq": object.get("seq").and_then(Value::as_u64)});
        (e, at)
    })?;
    let at = || json!({"stream": p.stream.as_str(), "seq": p.seq});
    if let Check::Open(names) = streams.check(&p).map_err(|e| (e, at()))? {
        let recipients = resolve(app, names).await.map_err(|e| (e, at()))?;
        let path = app.db.paths().live.join(format!("{}.wav", Uuid::new_v4()));
        debug!(user = %from.username, stream = p.stream.as_str(), recipients = recipients.len(), "intercom stream open");
        let phones = app.stations.live_start(from.user, &recipients);
        streams.open.insert(
            p.stream.clone(),
            Stream {
                recipients,
                next_seq: 0,
                frames: 0,
                recorder: Recorder::start(path),
                phones,
            },
        );
    }
    let s = match streams.admit(&p) {
        Ok(s) => s,
        Err(e) => {
            if let Some(s) = streams.open.remove(&p.stream) {
                if let Some(phones) = s.phones {
                    app.stations.live_buffer(phones, &[], true);
                }
                cut(app, from, &p.stream, s.next_seq, &s.recipients);
                let task = store(app.clone(), from.user, from.session, p.stream.clone(), s);
                streams.storing.spawn(task);
            }
            return Err((e, at()));
        }
    };
    // Forward first: latency is what the listener hears.
    let forward = json!({
        "stream": p.stream.as_str(), "seq": p.seq, "from": from.username,
        "pcm": p.pcm_b64, "ms": p.ms(), "end": p.end,
    });
    for r in &s.recipients {
        let text: Arc<str> = MessageObject::new(Action::Send, from.user, *r, forward.clone())
            .to_text()
            .into();
        app.clients.notify(*r, text);
    }
    if let Some(phones) = s.phones {
        app.stations.live_buffer(phones, &p.pcm, p.end);
    }
    if !p.pcm.is_empty() {
        s.recorder.push(p.pcm).await;
    }
    if p.end
        && let Some(s) = streams.open.remove(&p.stream)
    {
        let task = store(app.clone(), from.user, from.session, p.stream, s);
        streams.storing.spawn(task);
    }
    Ok(())
}

/// Ends every open stream of a closing session (a hang-up): recipients are told it was cut, and
/// what came is stored. Returns once every stream of the session is stored, so that a server
/// shutting down (which waits for its sessions to end) keeps them.
pub async fn close(app: &App, from: Sender<'_>, streams: &mut Streams) {
    for (id, s) in streams.open.drain() {
        if let Some(phones) = s.phones {
            app.stations.live_buffer(phones, &[], true);
        }
        cut(app, from, &id, s.next_seq, &s.recipients);
        let task = store(app.clone(), from.user, from.session, id, s);
        streams.storing.spawn(task);
    }
    while streams.storing.join_next().await.is_some() {}
}

/// Sends one live buffer spoken on a phone to the online sessions of `to`, in the format of
/// the module documentation (the stream id is the station's, in hex).
pub fn forward_from_phone(
    app: &App,
    from: (Uuid, &str),
    to: &[Uuid],
    stream: u64,
    seq: u64,
    pcm: &[i16],
    end: bool,
) {
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let ms = pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE);
    let object = json!({
        "stream": format!("{stream:x}"), "seq": seq, "from": from.1,
        "pcm": BASE64.encode(bytes), "ms": ms, "end": end,
    });
    for r in to {
        let text: Arc<str> = MessageObject::new(Action::Send, from.0, *r, object.clone())
            .to_text()
            .into();
        app.clients.notify(*r, text);
    }
}

/// Tells the recipients a stream ended without its `end` buffer.
fn cut(app: &App, from: Sender<'_>, id: &StreamId, seq: u64, recipients: &[Uuid]) {
    let object = json!({
        "stream": id.as_str(), "seq": seq, "from": from.username,
        "pcm": "", "ms": 0, "end": true, "cut": true,
    });
    for r in recipients {
        let text: Arc<str> = MessageObject::new(Action::Send, from.user, *r, object.clone())
            .to_text()
            .into();
        app.clients.notify(*r, text);
    }
}

/// Looks up recipients by username; refuses the first unknown one.
async fn resolve(app: &App, names: Vec<String>) -> Result<Vec<Uuid>, Error> {
    let found = app
        .db
        .read(move |c| {
            names
                .into_iter()
                .map(|n| {
                    let id = users::by_name(c, &n)?
                        .filter(|u| u.kind == "user")
                        .map(|u| u.id);
                    Ok(id.ok_or(n))
                })
                .collect::<Result<Vec<_>, crate::db::Error>>()
        })
        .await;
    match found {
        Ok(list) => list
            .into_iter()
            .map(|r| r.map_err(Error::UnknownRecipient))
            .collect(),
        Err(e) => {
            warn!(error = %e, "cannot look up intercom recipients");
            Err(Error::Malformed {
                field: "to",
                reason: "could not be looked up (server error)".into(),
            })
        }
    }
}

/// Closes a stream's file and stores it as a message; tells the sending session the outcome.
async fn store(app: App, sender: Uuid, session: SessionId, id: StreamId, s: Stream) {
    let ms = s.frames * 1000 / u64::from(SAMPLE_RATE);
    let outcome = match s.recorder.finish().await {
        Ok(path) if s.frames == 0 => {
            let _ = tokio::fs::remove_file(&path).await;
            Err("no audio: nothing stored".to_owned())
        }
        Ok(path) => {
            match accept::accept(
                &app,
                sender,
                s.recipients.clone(),
                Audio::Recorded(path.clone()),
                vec![],
            )
            .await
            {
                Ok(a) => {
                    // Before the transcoder can ring anyone for it: phones that heard the
                    // stream live will not offer it again.
                    if let Some(phones) = s.phones {
                        app.stations.live_stored(phones, &s.recipients, a.id);
                    }
                    // Tagged before this task yields again: the `post` comes only after the
                    // transcoder (queued inside accept) has run and committed.
                    app.clients.tag_stream(a.id, id.as_str());
                    info!(message = %a.id, stream = id.as_str(), duration_ms = ms, "intercom stream stored");
                    Ok(a.id)
                }
                Err(e) => {
                    warn!(stream = id.as_str(), error = %e, "cannot store an intercom stream");
                    let _ = tokio::fs::remove_file(&path).await;
                    Err(format!("not stored: {e}"))
                }
            }
        }
        Err(e) => {
            warn!(stream = id.as_str(), error = %e, "cannot write an intercom stream");
            Err(format!("not stored: {e}"))
        }
    };
    let object = match outcome {
        Ok(stored) => json!({"stream": id.as_str(), "stored": stored, "ms": ms}),
        Err(e) => json!({"stream": id.as_str(), "error": e}),
    };
    let text = MessageObject::new(Action::Send, app.clients.server_id(), sender, object).to_text();
    app.clients.send_to(sender, session, text.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portion(stream: &str, seq: u64, to: Option<&[&str]>, samples: usize) -> Value {
        let bytes: Vec<u8> = (0..samples)
            .flat_map(|i| (i as i16).to_le_bytes())
            .collect();
        let mut o = json!({"stream": stream, "seq": seq, "pcm": BASE64.encode(bytes)});
        if let Some(to) = to {
            o["to"] = json!(to);
        }
        o
    }

    #[test]
    fn parses_a_buffer() {
        let p = Portion::parse(&portion("AB01", 0, Some(&["bob"]), 160)).unwrap();
        assert_eq!(p.stream.as_str(), "ab01");
        assert_eq!(p.seq, 0);
        assert_eq!(p.to, Some(vec!["bob".to_owned()]));
        assert_eq!(p.pcm.len(), 160);
        assert_eq!(p.pcm[3], 3);
        assert_eq!(p.ms(), 20);
        assert!(!p.end);
    }

    #[test]
    fn refuses_bad_buffers() {
        let bad = |o: Value| Portion::parse(&o).unwrap_err();
        assert!(matches!(
            bad(json!({"seq": 0})),
            Error::Malformed {
                field: "stream",
                ..
            }
        ));
        assert!(matches!(
            bad(json!({"stream": "xyz", "seq": 0})),
            Error::Malformed {
                field: "stream",
                ..
            }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": -1})),
            Error::Malformed { field: "seq", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": "!!!"})),
            Error::Malformed { field: "pcm", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": "AA=="})),
            Error::Malformed { field: "pcm", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "to": "bob"})),
            Error::Malformed { field: "to", .. }
        ));
        assert!(matches!(
            bad(portion("a", 0, None, MAX_PCM_BYTES / 2 + 1)),
            Error::TooBig { .. }
        ));
        let huge = "A".repeat(1 << 20);
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": huge})),
            Error::TooBig { .. }
        ));
        assert!(Portion::parse(&portion("a", 0, None, MAX_PCM_BYTES / 2)).is_ok());
    }

    #[tokio::test]
    async fn checks_order_count_and_duration() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Streams::new(50);
        let first = Portion::parse(&portion("a", 0, Some(&["bob", "bob"]), 160)).unwrap();
        assert_eq!(s.check(&first), Ok(Check::Open(vec!["bob".into()])));
        let no_to = Portion::parse(&portion("b", 0, None, 160)).unwrap();
        assert!(matches!(
            s.check(&no_to),
            Err(Error::Malformed { field: "to", .. })
        ));
        let late = Portion::parse(&portion("b", 3, Some(&["bob"]), 160)).unwrap();
        assert_eq!(
            s.check(&late),
            Err(Error::OutOfOrder {
                expected: 0,
                got: 3
            })
        );
        s.open.insert(
            first.stream.clone(),
            Stream {
                recipients: vec![],
                next_seq: 0,
                frames: 0,
                recorder: Recorder::start(dir.path().join("a.wav")),
                phones: None,
            },
        );
        assert!(s.admit(&first).is_ok());
        let again = Portion::parse(&portion("a", 0, None, 160)).unwrap();
        assert_eq!(
            s.check(&again),
            Err(Error::OutOfOrder {
                expected: 1,
                got: 0
            })
        );
        let next = Portion::parse(&portion("a", 1, None, 160)).unwrap();
        assert_eq!(s.check(&next), Ok(Check::Next));
        assert!(s.admit(&next).is_ok());
        // 40 ms of a 50 ms limit are in: 20 more is too long.
        let over = Portion::parse(&portion("a", 2, None, 160)).unwrap();
        assert_eq!(s.admit(&over).unwrap_err(), Error::TooLong { max_ms: 50 });
        for i in 1..MAX_STREAMS {
            let id = StreamId::parse(&format!("{i:x}0")).unwrap();
            s.open.insert(
                id,
                Stream {
                    recipients: vec![],
                    next_seq: 0,
                    frames: 0,
                    recorder: Recorder::start(dir.path().join(format!("{i}.wav"))),
                    phones: None,
                },
            );
        }
        let fifth = Portion::parse(&portion("ff", 0, Some(&["bob"]), 0)).unwrap();
        assert_eq!(s.check(&fifth), Err(Error::TooManyStreams));
        assert_eq!(s.len(), MAX_STREAMS);
    }

    #[tokio::test]
    async fn the_recorder_writes_a_wav() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::start(dir.path().join("live").join("x.wav"));
        for i in 0..10i16 {
            r.push(vec![i; 160]).await;
        }
        let path = r.finish().await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 44 + 1600 * 2);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 3200);
        assert_eq!(i16::from_le_bytes([bytes[44 + 320], bytes[45 + 320]]), 1);
    }
}
