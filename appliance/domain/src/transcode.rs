//! The transcoder: turns messages acknowledged as received (`processing`, the upload sealed as it
//! came) into stored Opus messages (`ready`), off the request path.
//!
//! A bounded pool of blocking worker threads (one per core) takes message ids from one queue. For
//! each: read the sealed upload back from the upload spool (or, for a message an earlier version
//! left, its own file) and open it into memory (into an unlinked scratch file if larger than
//! [`media::UPLOAD_IN_MEMORY`]), run the clean-up and Opus encoding (`codecs::pipeline::ingest`)
//! into a new sealed file (fsynced, renamed into place), commit the row as `ready` in the next
//! group commit, and only then let the spool drop the upload's segment if nothing else needs it,
//! and push the message to its recipients. A corrupt upload (an input error the cheap checks at
//! upload missed) marks the message `failed`, tells the sender, and is never delivered. At
//! start-up every message still `processing` is queued again, so a crash between acknowledgement
//! and transcoding loses nothing (see docs/DURABILITY.md).
//!
//! Memory stays bounded in a burst: the queue holds message ids only (16 bytes in the channel and
//! an entry in the `queued` set; the uploads stay on disk in the spool until a worker takes
//! them), and each worker holds at most one opened upload ([`media::UPLOAD_IN_MEMORY`], 10 MiB)
//! and one decoded message (up to 5 minutes, `codecs::pipeline::IN_MEMORY_MAX`, 9.6 MB at 16 kHz)
//! at a time: about 20 MB per worker.

use std::fs::{self, File};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::audio as media;
use crate::db::{self, messages as store, spool};
use crate::events::Event;
use crate::messaging::{Action, MessageObject};

/// The queue of messages to transcode; held by the application state.
#[derive(Debug)]
pub(crate) struct Queue {
    tx: Mutex<std_mpsc::Sender<Uuid>>,
    rx: Mutex<Option<std_mpsc::Receiver<Uuid>>>,
    /// Messages queued and not yet taken by a worker.
    waiting: AtomicUsize,
    /// Messages queued or being transcoded (a message is queued once at a time).
    queued: Mutex<std::collections::HashSet<Uuid>>,
}

impl Default for Queue {
    fn default() -> Self {
        let (tx, rx) = std_mpsc::channel();
        Self {
            tx: Mutex::new(tx),
            rx: Mutex::new(Some(rx)),
            waiting: AtomicUsize::new(0),
            queued: Mutex::new(std::collections::HashSet::new()),
        }
    }
}

impl Queue {
    /// Queues a committed `processing` message; false if it was queued already (or being
    /// transcoded).
    pub(crate) fn push(&self, id: Uuid) -> bool {
        if !self
            .queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
        {
            return false;
        }
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        // The receiver lives as long as the workers; if they are gone the message stays
        // `processing` and is queued again at the next start.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if tx.send(id).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.done(id);
            return false;
        }
        true
    }

    /// Takes `id` off the queue as a worker would, and forgets it (a test's failed worker).
    #[cfg(test)]
    pub(crate) fn take_for_test(&self, id: Uuid) {
        let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let taken = rx.as_ref().and_then(|r| r.try_recv().ok());
        assert_eq!(taken, Some(id), "the only message queued");
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.done(id);
    }

    /// `id` is no longer queued or in progress.
    fn done(&self, id: Uuid) {
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Messages acknowledged and waiting for a worker (for `/metrics`).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// Starts the worker pool (once), then queues every message still `processing` in the database.
pub(crate) async fn start(app: &VoiceMessaging) -> Result<(), db::Error> {
    let Some(rx) = app
        .0
        .transcoder
        .rx
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return Ok(());
    };
    let rx = Arc::new(Mutex::new(rx));
    let workers = app
        .0
        .config
        .transcode_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let rt = tokio::runtime::Handle::current();
    for n in 0..workers {
        let (app, rx, rt) = (app.clone(), rx.clone(), rt.clone());
        std::thread::Builder::new()
            .name(format!("transcode-{n}"))
            .spawn(move || worker(&app, &rx, &rt))?;
    }
    let backlog = app.0.db.read(store::processing).await?;
    if !backlog.is_empty() {
        info!(
            messages = backlog.len(),
            "queueing messages left processing"
        );
    }
    for id in backlog {
        app.0.transcoder.push(id);
    }
    Ok(())
}

/// Queues again every message still `processing` that is not queued or being transcoded: those
/// whose transcoding failed for a reason of the appliance's (a full disk), once the reason may
/// have passed. Run by the retention sweep.
pub(crate) async fn requeue(app: &VoiceMessaging) -> Result<usize, db::Error> {
    let stuck = app.0.db.read(store::processing).await?;
    Ok(stuck
        .into_iter()
        .filter(|id| app.0.transcoder.push(*id))
        .count())
}

fn worker(app: &VoiceMessaging, rx: &Mutex<std_mpsc::Receiver<Uuid>>, rt: &tokio::runtime::Handle) {
    background_priority();
    loop {
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(id) = next else { return };
        app.0.transcoder.waiting.fetch_sub(1, Ordering::Relaxed);
        let result = transcode_one(app, rt, id);
        app.0.transcoder.done(id);
        if let Err(e) = result {
            // Not the upload's fault (storage full, database): it stays `processing` and is
            // queued again by the next sweep ([`requeue`]) or start.
            warn!(message_id = %id, error = %e, "transcoding failed; left processing, retried later");
        }
    }
}

/// Gives the calling worker thread the lowest CPU share (Linux `SCHED_BATCH`, nice 19): when
/// uploads and transcoding compete, the scheduler gives acknowledging uploads (sealing, fsync,
/// commit) and live delivery — what users wait for — about 98 % of a core; transcoding is
/// background work that catches up after a burst. It is never starved outright (as `SCHED_IDLE`
/// would), so messages keep becoming ready under sustained load, only more slowly.
fn background_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, batch) {
        warn!(error = ?e, "cannot lower the transcoder's priority; it competes with uploads");
    }
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    Db(#[from] db::Error),
    #[error("{0}")]
    Media(#[from] media::Error),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

fn transcode_one(app: &VoiceMessaging, rt: &tokio::runtime::Handle, id: Uuid) -> Result<(), Error> {
    let Some(p) = rt.block_on(app.0.db.read(move |c| store::pending_transcode(c, id)))? else {
        debug!(message_id = %id, "no longer processing");
        return Ok(());
    };
    let dir = app.0.db.paths().media.clone();
    let raw: Box<dyn Read> = match p.raw_offset {
        Some(offset) => Box::new(app.0.db.spool().open_upload(&spool::Stored {
            file: p.raw_file.clone(),
            offset,
            len: p.raw_bytes,
        })?),
        None => Box::new(std::io::BufReader::new(File::open(dir.join(&p.raw_file))?)),
    };
    // An upload too large to open in memory goes to an unlinked scratch file, so a crash
    // leaves nothing behind.
    let scratch_path = dir.join(format!(".{id}.scratch.tmp"));
    let scratch = || {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&scratch_path)?;
        fs::remove_file(&scratch_path)?;
        Ok(file)
    };
    let audio_file = format!("{id}.audio");
    let max = app.0.config.max_duration;
    let done = db::create_file(&dir, &audio_file, |w| {
        media::transcode(raw, p.raw_bytes, scratch, &app.0.key, id, max, w).map_err(Error::from)
    });
    let (duration_ms, bytes) = match done {
        Ok(d) => d,
        Err(Error::Media(e)) if e.is_input() => return fail(app, rt, id, &p, &e),
        Err(e) => return Err(e),
    };
    let file = audio_file.clone();
    let ready = rt.block_on(
        app.0
            .db
            .write(move |c| store::mark_ready(c, id, &file, bytes, duration_ms, "opus")),
    )?;
    if !ready {
        // Deleted or expired while transcoding: nothing names the new file.
        let _ = fs::remove_file(dir.join(&audio_file));
        return Ok(());
    }
    // The committed row no longer names the upload; if this removal is lost in a crash, the
    // start-up sweep removes it.
    remove_raw(app, rt, &p);
    app.0.metrics.messages_ready.fetch_add(1, Ordering::Relaxed);
    rt.block_on(app.announce_ready(id, p.sender, p.recipients.clone()))?;
    debug!(message_id = %id, duration_ms, "message transcoded");
    Ok(())
}

impl VoiceMessaging {
    /// Message `id` from `from`, just committed ready: its online recipients' sessions get it
    /// at once, and their phones offer it ([`Event::MessageReady`]). The one way a message
    /// reaches its recipients, transcoded here or received from another site.
    pub(crate) async fn announce_ready(
        &self,
        id: Uuid,
        from: Uuid,
        recipients: Vec<Uuid>,
    ) -> Result<(), db::Error> {
        let committed_us = self.0.clock.now_us();
        if let Some(&first) = recipients.first()
            && let Some((mut view, _)) = self
                .0
                .db
                .read(move |c| store::get_for(c, first, id))
                .await?
        {
            view.direction = "in";
            self.0.clients.deliver(&view, &recipients, committed_us);
        }
        self.publish(Event::MessageReady {
            message: id,
            from,
            recipients,
        });
        Ok(())
    }
}

/// Removes an upload no row names any more: its file, or its spool segment once no other
/// message needs it.
fn remove_raw(app: &VoiceMessaging, rt: &tokio::runtime::Handle, p: &store::Pending) {
    if p.raw_offset.is_some() {
        rt.block_on(app.0.db.collect_spool(true));
    } else if let Err(e) = fs::remove_file(app.0.db.paths().media.join(&p.raw_file)) {
        warn!(file = %p.raw_file, error = %e, "cannot remove the raw upload");
    }
}

/// Marks a corrupt upload failed, removes it and tells the sender's sessions.
fn fail(
    app: &VoiceMessaging,
    rt: &tokio::runtime::Handle,
    id: Uuid,
    p: &store::Pending,
    why: &media::Error,
) -> Result<(), Error> {
    warn!(message_id = %id, error = %why, "upload is corrupt; message failed");
    if !rt.block_on(app.0.db.write(move |c| store::mark_failed(c, id)))? {
        return Ok(());
    }
    remove_raw(app, rt, p);
    app.0
        .metrics
        .messages_failed
        .fetch_add(1, Ordering::Relaxed);
    let sender = p.sender;
    if let Some((view, _)) = rt.block_on(app.0.db.read(move |c| store::get_for(c, sender, id)))? {
        let mut object = serde_json::to_value(&view).unwrap_or_default();
        if let Some(o) = object.as_object_mut() {
            o.insert("error".into(), json!(why.to_string()));
        }
        let text =
            MessageObject::new(Action::Post, app.0.clients.server_id(), sender, object).to_text();
        app.0.clients.notify(sender, text.into());
    }
    Ok(())
}
