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
//! Recipients at another site (`name@site`, with federation) get the same objects through
//! their own appliance, `from` written `alice@hq` (see the `offhook-federation` crate's `live`
//! module); a buffer that cannot leave at once is dropped there, and the stored copy follows.
//!
//! If the sender's session closes mid-stream (a hang-up), or the stream reaches
//! `messages.max_duration`, the recipients get a last object with empty `pcm`, `ms: 0`,
//! `end: true` and `cut: true`.
//!
//! Meanwhile the buffers are appended to a WAV file under `DATA/live/` by a writer task, so the
//! session never waits on the disk. When the stream ends (by `end`, by the session closing, or
//! at `max_duration`) the file is stored through [`VoiceMessaging::accept`] as a message to every
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

mod recorder;
mod stream;

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tracing::{debug, info, warn};
use uuid::Uuid;

use self::recorder::Recorder;
pub use self::stream::{
    BURST_MS, Check, Error, MAX_BUFFER_MS, MAX_PCM_BYTES, MAX_RECIPIENTS, MAX_STREAM_ID,
    MAX_STREAMS, Portion, SAMPLE_RATE, Stream, StreamTag, Streams,
};
use crate::VoiceMessaging;
use crate::accept::{Audio, Recording};
use crate::clients::SessionId;
use crate::mailbox::ResolveError;
use crate::messaging::{Action, MessageObject};

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
    core: &VoiceMessaging,
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
        let recipients = core
            .resolve(names)
            .await
            .map_err(|e| (resolve_error(e), at()))?;
        // Stored even if it passes the quota once spoken: it may not start over it.
        if let Ok(Err(over)) = core.may_record(from.user).await {
            return Err((Error::OverQuota(over), at()));
        }
        core.disk_room()
            .await
            .map_err(|full| (Error::DiskFull(full), at()))?;
        let path = core
            .db()
            .paths()
            .live
            .join(format!("{}.wav", Uuid::new_v4()));
        debug!(user = %from.username, stream = p.stream.as_str(), recipients = recipients.len(), "intercom stream open");
        let phones = core.live_start(from.user, &recipients);
        streams.open.insert(
            p.stream.clone(),
            Stream {
                recipients,
                next_seq: 0,
                frames: 0,
                started_ms: core.clock().now_ms(),
                recorder: Recorder::start(path),
                phones,
            },
        );
    }
    let s = match streams.admit(&p, core.clock().now_ms()) {
        Ok(s) => s,
        // Dropped; the stream goes on.
        Err(e @ Error::TooFast) => return Err((e, at())),
        Err(e) => {
            if let Some(s) = streams.open.remove(&p.stream) {
                if let Some(phones) = s.phones {
                    core.live_buffer(phones, &[], true);
                }
                cut(core, from, &p.stream, s.next_seq, &s.recipients);
                let task = store(core.clone(), from.user, from.session, p.stream.clone(), s);
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
        core.clients().notify(*r, text);
    }
    core.relay_live((from.user, from.username), &s.recipients, &forward);
    if let Some(phones) = s.phones {
        core.live_buffer(phones, &p.pcm, p.end);
    }
    if !p.pcm.is_empty() {
        s.recorder.push(p.pcm).await;
    }
    if p.end
        && let Some(s) = streams.open.remove(&p.stream)
    {
        let task = store(core.clone(), from.user, from.session, p.stream, s);
        streams.storing.spawn(task);
    }
    Ok(())
}

/// Ends every open stream of a closing session (a hang-up): recipients are told it was cut, and
/// what came is stored. Returns once every stream of the session is stored, so that a server
/// shutting down (which waits for its sessions to end) keeps them.
pub async fn close(core: &VoiceMessaging, from: Sender<'_>, streams: &mut Streams) {
    for (id, s) in streams.open.drain() {
        if let Some(phones) = s.phones {
            core.live_buffer(phones, &[], true);
        }
        cut(core, from, &id, s.next_seq, &s.recipients);
        let task = store(core.clone(), from.user, from.session, id, s);
        streams.storing.spawn(task);
    }
    while streams.storing.join_next().await.is_some() {}
}

/// What a phone's live stream forwards to the recipients' sessions.
#[derive(Debug, Clone, Copy)]
pub enum PhoneLive<'a> {
    /// A buffer of audio.
    Buffer {
        /// The audio.
        pcm: &'a [i16],
        /// When the media engine received the RTP datagram that completed it: each session
        /// that writes the buffer observes the time since in `offhook_intercom_latency_seconds`.
        received: Instant,
    },
    /// The end of the stream (an object with empty `pcm` and `end: true`).
    End,
}

/// Sends one live buffer spoken on a phone (or the stream's end) to the online sessions of
/// `to`, in the format of the module documentation (the stream id is the station's, in hex).
pub fn forward_from_phone(
    core: &VoiceMessaging,
    from: (Uuid, &str),
    to: &[Uuid],
    stream: u64,
    seq: u64,
    live: PhoneLive<'_>,
) {
    let (pcm, received) = match live {
        PhoneLive::Buffer { pcm, received } => (pcm, Some(received)),
        PhoneLive::End => (&[][..], None),
    };
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let ms = pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE);
    let object = json!({
        "stream": format!("{stream:x}"), "seq": seq, "from": from.1,
        "pcm": BASE64.encode(bytes), "ms": ms, "end": received.is_none(),
    });
    for r in to {
        let text: Arc<str> = MessageObject::new(Action::Send, from.0, *r, object.clone())
            .to_text()
            .into();
        match received {
            Some(at) => core.clients().notify_live(*r, text, at),
            None => core.clients().notify(*r, text),
        }
    }
    core.relay_live(from, to, &object);
}

/// Tells the recipients a stream ended without its `end` buffer.
fn cut(core: &VoiceMessaging, from: Sender<'_>, id: &StreamTag, seq: u64, recipients: &[Uuid]) {
    let object = json!({
        "stream": id.as_str(), "seq": seq, "from": from.username,
        "pcm": "", "ms": 0, "end": true, "cut": true,
    });
    for r in recipients {
        let text: Arc<str> = MessageObject::new(Action::Send, from.user, *r, object.clone())
            .to_text()
            .into();
        core.clients().notify(*r, text);
    }
    core.relay_live((from.user, from.username), recipients, &object);
}

fn resolve_error(e: ResolveError) -> Error {
    match e {
        ResolveError::UnknownRecipient(name) => Error::UnknownRecipient(name),
        e => {
            warn!(error = %e, "cannot look up intercom recipients");
            Error::Malformed {
                field: "to",
                reason: "could not be looked up (server error)".into(),
            }
        }
    }
}

/// Closes a stream's file and stores it as a message; tells the sending session the outcome.
async fn store(core: VoiceMessaging, sender: Uuid, session: SessionId, id: StreamTag, s: Stream) {
    let ms = s.frames * 1000 / u64::from(SAMPLE_RATE);
    let outcome = match s.recorder.finish().await {
        Ok(path) if s.frames == 0 => {
            let _ = tokio::fs::remove_file(&path).await;
            Err("no audio: nothing stored".to_owned())
        }
        Ok(path) => {
            let recording = Recording {
                file: path.clone(),
                speech: None,
            };
            match core
                .accept(
                    sender,
                    s.recipients.clone(),
                    Audio::Recorded(recording),
                    vec![],
                )
                .await
            {
                Ok(a) => {
                    // Before the transcoder can ring anyone for it: phones that heard the
                    // stream live will not offer it again.
                    if let Some(phones) = s.phones {
                        core.live_stored(phones, &s.recipients, a.id);
                    }
                    // Tagged before this task yields again: the `post` comes only after the
                    // transcoder (queued inside accept) has run and committed.
                    core.clients().tag_stream(a.id, id.as_str());
                    info!(message_id = %a.id, stream = id.as_str(), duration_ms = ms, "intercom stream stored");
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
    let text =
        MessageObject::new(Action::Send, core.clients().server_id(), sender, object).to_text();
    core.clients().send_to(sender, session, text.into());
}
