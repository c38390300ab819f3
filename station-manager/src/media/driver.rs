//! The tokio media engine: one task per call owning its RTP and RTCP sockets.
//!
//! Each call task is the driver loop of one [`Stream`]: receive (each ready socket read with
//! `recvmmsg`, [`super::batch::SLOTS`] datagrams a call, up to [`ROUNDS`] calls per wake-up), call `handle_*`, drain the
//! `poll_*` methods, send, then sleep until `poll_timeout`. File creation and finishing
//! (`Recorder::create`, `CaptureSink::finish`), `MessageAudio::open` and `open_prompt` run on tokio's
//! blocking pool; recordings are written through a 64 KiB buffer to the page cache.
//!
//! Batching: a G.711 call at 20 ms ptime usually has one datagram queued per wake-up, but
//! after a stall (a busy core, a burst from the gateway's jitter) the backlog comes in with
//! one system call instead of one per datagram; see [`super::batch`]. A batch shorter than
//! [`super::batch::SLOTS`] clears the socket's readiness, so a wake-up for one datagram costs one
//! `recvmmsg`, and each datagram reaches the `Stream` with the instant its `recvmmsg` returned.
// The driver reads the clock (tokio's, so `tokio::time::pause` controls it in tests) and the
// wall clock for RTCP sender reports: it is where time enters the sans-IO cores.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_control::model::{CallId, LineId};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

use super::batch::BatchSocket;
use super::{
    Config, FrameSource, LiveQueue, MessageAudio, Recorder, SourceError, Stats, Stream, law,
};
use crate::{MediaCommand, MediaEvent, StreamId};

/// Most `recvmmsg` calls on one socket per wake-up before the other inputs get a turn (so at
/// most `ROUNDS × batch::SLOTS` datagrams).
pub const ROUNDS: usize = 8;
/// Live streams held for phones not yet playing them; beyond, the oldest ended one goes.
pub const MAX_LIVE_STREAMS: usize = 256;

/// The engine's own runtime: `threads` workers named `media` (at `realtime` priority when set),
/// and a blocking pool named `media-io` (file creation and finishing, opening messages) that
/// keeps the normal priority.
///
/// Tokio starts a multi-thread runtime's workers while it builds it, through the same thread
/// factory as its blocking pool, and a worker lives as long as the runtime: so the first
/// `threads` threads it starts are the workers, and every later one is a blocking thread.
fn own_runtime(threads: usize, realtime: Option<u8>) -> io::Result<tokio::runtime::Runtime> {
    let threads = threads.max(1);
    let started = AtomicUsize::new(0);
    let refused = AtomicBool::new(false);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name_fn(move || {
            let n = started.fetch_add(1, Ordering::Relaxed);
            if n < threads { WORKER } else { BLOCKING }.into()
        })
        .on_thread_start(move || {
            if let Some(priority) = realtime
                && std::thread::current().name() == Some(WORKER)
            {
                set_realtime(priority, &refused);
            }
        })
        .enable_all()
        .build()
}

/// The engine runtime's worker threads' name.
pub const WORKER: &str = "media";
/// The engine runtime's blocking threads' name.
pub const BLOCKING: &str = "media-io";

/// Puts the calling thread in `SCHED_FIFO` at `priority` (1–99), or says why it could not (no
/// `CAP_SYS_NICE` and an `RLIMIT_RTPRIO` below `priority`): the thread then keeps its policy.
pub fn set_thread_realtime(priority: u8) -> Result<(), String> {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
    let p = ThreadPriorityValue::try_from(priority).map_err(|e| e.to_string())?;
    set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Crossplatform(p), fifo)
        .map_err(|e| format!("{e:?}"))
}

/// [`set_thread_realtime`], logging the first refusal (`refused` remembers it).
fn set_realtime(priority: u8, refused: &AtomicBool) {
    match set_thread_realtime(priority) {
        Ok(()) => debug!(priority, "media thread at real-time priority (SCHED_FIFO)"),
        Err(e) if !refused.swap(true, Ordering::Relaxed) => warn!(
            priority,
            error = %e,
            "media threads keep the normal priority: SCHED_FIFO refused (give the service \
             LimitRTPRIO={priority} or CAP_SYS_NICE, or set media.realtime_priority = 0)"
        ),
        Err(_) => {}
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn wall() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Stream configuration.
    pub media: Config,
    /// Address the RTP/RTCP sockets bind to.
    pub bind: IpAddr,
    /// Directory recordings are written to.
    pub recordings: PathBuf,
    /// Worker threads of a runtime of the engine's own (threads named `media`), so that RTP is
    /// never queued behind the rest of the application's tasks; `None` runs the engine on the
    /// caller's runtime.
    pub threads: Option<usize>,
    /// `SCHED_FIFO` priority (1–99) of those workers, so that other work on a busy core
    /// (transcoding, a backup) does not hold packets past the jitter buffer; `None` keeps the
    /// normal policy. Needs `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least this value, else the
    /// engine warns once and runs at the normal priority.
    pub realtime_priority: Option<u8>,
}

impl EngineConfig {
    /// Defaults, binding to 127.0.0.1 and recording into `recordings`.
    pub fn new(recordings: PathBuf) -> Self {
        Self {
            media: Config::default(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            recordings,
            threads: None,
            realtime_priority: None,
        }
    }
}

enum Request {
    Command(MediaCommand),
    LiveBuffer(StreamId, Arc<[i16]>),
    LiveEnd(StreamId),
    Stats(oneshot::Sender<Stats>),
}

enum CallMsg {
    Remote(gateway_control::model::Media),
    StartCapture {
        silence: Option<Duration>,
        max_length: Duration,
        live_buffer: Option<usize>,
    },
    StopCapture,
    PlayMessage(crate::MessageId),
    PlayPrompt(crate::Prompt),
    WatchProgress,
    PlayLive(StreamId, LiveQueue),
    LiveBuffer(StreamId, Arc<[i16]>),
    LiveEnd(StreamId),
    /// A buffer for whatever live stream the call plays (`MediaCommand::LiveBuffer`).
    PlayingBuffer(Vec<i16>),
    /// The live stream the call plays ended (`MediaCommand::LiveEnd`).
    PlayingEnd,
    StopPlay,
    Close,
}

/// The engine has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the media engine has stopped")]
pub struct EngineGone;

/// Sends commands and live audio to the engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    tx: mpsc::UnboundedSender<Request>,
}

impl MediaHandle {
    /// Carries out `command` (answers come as [`MediaEvent`]s).
    pub fn command(&self, command: MediaCommand) -> Result<(), EngineGone> {
        self.tx
            .send(Request::Command(command))
            .map_err(|_| EngineGone)
    }

    /// A buffer of live stream `stream` (8 kHz PCM), for the calls that play or will play it.
    pub fn live_buffer(&self, stream: StreamId, pcm: Vec<i16>) -> Result<(), EngineGone> {
        self.tx
            .send(Request::LiveBuffer(stream, pcm.into()))
            .map_err(|_| EngineGone)
    }

    /// Live stream `stream` ended.
    pub fn live_end(&self, stream: StreamId) -> Result<(), EngineGone> {
        self.tx
            .send(Request::LiveEnd(stream))
            .map_err(|_| EngineGone)
    }

    /// Counters summed over every call, open or closed (an open call's as of its last
    /// command or timer, not of its last packet: the receive path takes no lock).
    pub async fn stats(&self) -> Result<Stats, EngineGone> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Request::Stats(tx)).map_err(|_| EngineGone)?;
        rx.await.map_err(|_| EngineGone)
    }
}

#[derive(Default)]
struct Totals {
    open: HashMap<CallId, Stats>,
    closed: Stats,
}

struct Live {
    queue: LiveQueue,
    calls: Vec<CallId>,
    order: u64,
}

/// The media engine: spawn it, then drive it through its [`MediaHandle`].
pub struct MediaEngine {
    config: Arc<EngineConfig>,
    audio: Arc<dyn MessageAudio>,
    events: mpsc::UnboundedSender<MediaEvent>,
    calls: HashMap<CallId, mpsc::UnboundedSender<CallMsg>>,
    live: HashMap<StreamId, Live>,
    live_order: u64,
    totals: Arc<Mutex<Totals>>,
}

impl MediaEngine {
    /// Starts the engine on the current tokio runtime. Events come out of the receiver
    /// (unbounded: a call task never waits for the consumer).
    pub fn spawn(
        config: EngineConfig,
        audio: Arc<dyn MessageAudio>,
    ) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (threads, realtime) = (config.threads, config.realtime_priority);
        let engine = Self {
            config: Arc::new(config),
            audio,
            events,
            calls: HashMap::new(),
            live: HashMap::new(),
            live_order: 0,
            totals: Arc::default(),
        };
        let run = engine.run(rx).instrument(info_span!("media"));
        match threads.map(|n| own_runtime(n, realtime)) {
            // The engine's loop runs on a thread of its own blocking on it (at the workers'
            // priority: live buffers for phones pass through it); its calls' tasks on the
            // runtime's workers. The runtime ends with the loop (every handle dropped).
            Some(Ok(rt)) => {
                let started = std::thread::Builder::new()
                    .name("media-engine".into())
                    .spawn(move || {
                        // A refusal here is the workers' to report (they started first).
                        if let Some(priority) = realtime {
                            let _ = set_thread_realtime(priority);
                        }
                        rt.block_on(run)
                    });
                if let Err(e) = started {
                    warn!(error = %e, "cannot start the media engine's thread");
                }
            }
            Some(Err(e)) => {
                warn!(error = %e, "no runtime of its own for the media engine: it shares the caller's");
                tokio::spawn(run);
            }
            None => {
                tokio::spawn(run);
            }
        }
        (MediaHandle { tx }, events_rx)
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        info!(recordings = %self.config.recordings.display(), "media engine started");
        while let Some(r) = rx.recv().await {
            match r {
                Request::Command(c) => self.command(c),
                Request::LiveBuffer(stream, pcm) => self.live_buffer(stream, pcm),
                Request::LiveEnd(stream) => self.live_end(stream),
                Request::Stats(tx) => {
                    let t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
                    let mut s = t.closed;
                    for v in t.open.values() {
                        s += *v;
                    }
                    let _ = tx.send(s);
                }
            }
        }
        info!("media engine stopped");
    }

    fn send_call(&self, call: CallId, msg: CallMsg) {
        let sent = self.calls.get(&call).is_some_and(|tx| tx.send(msg).is_ok());
        if !sent {
            debug!(%call, "command for a call that is not open");
            let _ = self.events.send(MediaEvent::Failed {
                call,
                reason: "no media open for this call".into(),
            });
        }
    }

    fn command(&mut self, c: MediaCommand) {
        match c {
            MediaCommand::Open { call, port, line } => {
                let (tx, rx) = mpsc::unbounded_channel();
                if let Some(old) = self.calls.insert(call, tx) {
                    let _ = old.send(CallMsg::Close);
                }
                let task = CallTask {
                    call,
                    config: self.config.clone(),
                    audio: self.audio.clone(),
                    events: self.events.clone(),
                    totals: self.totals.clone(),
                    recordings: 0,
                    live: None,
                    receive_calls: 0,
                };
                let span = info_span!("call", %call, %line, port);
                tokio::spawn(task.run(port, line, rx).instrument(span));
            }
            MediaCommand::Remote { call, remote } => self.send_call(call, CallMsg::Remote(remote)),
            MediaCommand::StartCapture {
                call,
                silence,
                max_length,
                live_buffer,
            } => self.send_call(
                call,
                CallMsg::StartCapture {
                    silence,
                    max_length,
                    live_buffer,
                },
            ),
            MediaCommand::StopCapture { call } => self.send_call(call, CallMsg::StopCapture),
            MediaCommand::PlayMessage { call, message } => {
                self.send_call(call, CallMsg::PlayMessage(message));
            }
            MediaCommand::PlayLive { call, stream } => {
                let live = self.live_entry(stream);
                live.calls.push(call);
                let queue = live.queue.clone();
                self.send_call(call, CallMsg::PlayLive(stream, queue));
            }
            MediaCommand::LiveBuffer { call, pcm } => {
                self.send_call(call, CallMsg::PlayingBuffer(pcm));
            }
            MediaCommand::LiveEnd { call } => self.send_call(call, CallMsg::PlayingEnd),
            MediaCommand::PlayPrompt { call, prompt } => {
                self.send_call(call, CallMsg::PlayPrompt(prompt));
            }
            MediaCommand::WatchProgress { call } => self.send_call(call, CallMsg::WatchProgress),
            MediaCommand::StopPlay { call } => self.send_call(call, CallMsg::StopPlay),
            MediaCommand::Close { call } => {
                if let Some(tx) = self.calls.remove(&call) {
                    let _ = tx.send(CallMsg::Close);
                }
                for l in self.live.values_mut() {
                    l.calls.retain(|&c| c != call);
                }
            }
        }
    }

    fn live_entry(&mut self, stream: StreamId) -> &mut Live {
        if !self.live.contains_key(&stream) && self.live.len() >= MAX_LIVE_STREAMS {
            let oldest = self
                .live
                .iter()
                .filter(|(_, l)| l.queue.is_ended() || l.calls.is_empty())
                .min_by_key(|(_, l)| l.order)
                .map(|(s, _)| *s);
            if let Some(s) = oldest {
                debug!(stream = %s, "live stream forgotten: too many held");
                self.live.remove(&s);
            }
        }
        self.live_order += 1;
        let order = self.live_order;
        let config = &self.config.media;
        self.live.entry(stream).or_insert_with(|| Live {
            queue: LiveQueue::new(config),
            calls: Vec::new(),
            order,
        })
    }

    fn live_buffer(&mut self, stream: StreamId, pcm: Arc<[i16]>) {
        let live = self.live_entry(stream);
        live.queue.push(&pcm);
        for call in live.calls.clone() {
            if let Some(tx) = self.calls.get(&call) {
                let _ = tx.send(CallMsg::LiveBuffer(stream, pcm.clone()));
            }
        }
    }

    fn live_end(&mut self, stream: StreamId) {
        let live = self.live_entry(stream);
        live.queue.end();
        for call in live.calls.clone() {
            if let Some(tx) = self.calls.get(&call) {
                let _ = tx.send(CallMsg::LiveEnd(stream));
            }
        }
    }
}

struct CallTask {
    call: CallId,
    config: Arc<EngineConfig>,
    audio: Arc<dyn MessageAudio>,
    events: mpsc::UnboundedSender<MediaEvent>,
    totals: Arc<Mutex<Totals>>,
    recordings: u64,
    /// The live stream being played, for `MediaCommand::LiveBuffer`/`LiveEnd`.
    live: Option<StreamId>,
    /// `recvmmsg` calls on the RTP socket that returned datagrams.
    receive_calls: u64,
}

impl CallTask {
    fn fail(&self, reason: String) {
        warn!(call = %self.call, %reason, "media failed");
        let _ = self.events.send(MediaEvent::Failed {
            call: self.call,
            reason,
        });
    }

    async fn run(mut self, port: u16, line: LineId, mut rx: mpsc::UnboundedReceiver<CallMsg>) {
        let bind = self.config.bind;
        let sockets = async {
            let rtp = BatchSocket::bind(SocketAddr::new(bind, port)).await?;
            let rtcp = BatchSocket::bind(SocketAddr::new(bind, port.wrapping_add(1))).await?;
            io::Result::Ok((rtp, rtcp))
        };
        let (rtp, rtcp) = match sockets.await {
            Ok(s) => s,
            Err(e) => return self.fail(format!("RTP port {port}: {e}")),
        };
        debug!(call = %self.call, port, "media open");
        let mut stream = Stream::new(now(), wall(), self.call, line, port, &self.config.media);
        let mut deadline = stream.poll_timeout();
        let far = || tokio::time::Instant::now() + Duration::from_secs(86_400);
        let mut sleep = pin!(tokio::time::sleep_until(
            deadline.map_or_else(far, tokio::time::Instant::from_std)
        ));
        loop {
            tokio::select! {
                biased;
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    if !self.handle(&mut stream, msg).await {
                        break;
                    }
                }
                r = rtp.readable() => {
                    let r = r.and_then(|()| {
                        // `now` is read as each `recvmmsg` returns: the receive instant that
                        // `MediaEvent::Buffer` carries.
                        rtp.recv_batch(ROUNDS, now, |at, from, d| stream.handle_datagram(at, from, d))
                    });
                    match r {
                        Ok(calls) => self.receive_calls += u64::from(calls),
                        Err(e) => debug!(call = %self.call, error = %e, "RTP receive"),
                    }
                }
                r = rtcp.readable() => {
                    let r = r.and_then(|()| {
                        rtcp.recv_batch(1, now, |at, from, d| stream.handle_rtcp(at, from, d))
                    });
                    if let Err(e) = r {
                        debug!(call = %self.call, error = %e, "RTCP receive");
                    }
                }
                () = &mut sleep, if deadline.is_some() => {
                    stream.handle_timeout(now());
                    self.publish(&stream);
                }
            }
            self.flush(&mut stream, &rtp, &rtcp).await;
            let next = stream.poll_timeout();
            if next != deadline {
                deadline = next;
                if let Some(t) = next {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(t));
                }
            }
        }
        stream.handle_stop_capture(now());
        stream.handle_stop_play();
        self.flush(&mut stream, &rtp, &rtcp).await;
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        t.open.remove(&self.call);
        t.closed += self.stats(&stream);
        debug!(call = %self.call, stats = ?self.stats(&stream), "media closed");
    }

    fn stats(&self, stream: &Stream) -> Stats {
        Stats {
            receive_calls: self.receive_calls,
            ..stream.stats()
        }
    }

    fn publish(&self, stream: &Stream) {
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        t.open.insert(self.call, self.stats(stream));
    }

    /// Returns false on `Close`.
    async fn handle(&mut self, stream: &mut Stream, msg: CallMsg) -> bool {
        match msg {
            CallMsg::Remote(remote) => stream.handle_remote(now(), remote),
            CallMsg::StartCapture {
                silence,
                max_length,
                live_buffer,
            } => {
                self.recordings += 1;
                let (dir, call, n) = (self.config.recordings.clone(), self.call, self.recordings);
                match tokio::task::spawn_blocking(move || Recorder::create(&dir, call, n)).await {
                    Ok(Ok(rec)) => stream.handle_start_capture(
                        now(),
                        Box::new(rec),
                        silence,
                        max_length,
                        live_buffer,
                    ),
                    Ok(Err(e)) => self.fail(format!("recording file: {e}")),
                    Err(e) => self.fail(format!("recording file: {e}")),
                }
            }
            CallMsg::StopCapture => stream.handle_stop_capture(now()),
            CallMsg::PlayMessage(message) => {
                self.play(stream, move |audio, law, frame| {
                    audio.open(message, law, frame)
                })
                .await;
            }
            CallMsg::PlayPrompt(prompt) => {
                self.play(stream, move |audio, law, frame| {
                    audio.open_prompt(prompt, law, frame)
                })
                .await;
            }
            CallMsg::WatchProgress => stream.handle_watch_progress(),
            CallMsg::PlayLive(id, queue) => {
                self.live = Some(id);
                stream.handle_play_live(now(), id, queue);
            }
            CallMsg::PlayingBuffer(pcm) => {
                if let Some(id) = self.live {
                    stream.handle_live_buffer(id, &pcm);
                }
            }
            CallMsg::PlayingEnd => {
                if let Some(id) = self.live {
                    stream.handle_live_end(id);
                }
            }
            CallMsg::LiveBuffer(id, pcm) => {
                stream.handle_live_buffer(id, &pcm);
            }
            CallMsg::LiveEnd(id) => {
                stream.handle_live_end(id);
            }
            CallMsg::StopPlay => stream.handle_stop_play(),
            CallMsg::Close => return false,
        }
        self.publish(stream);
        true
    }

    /// Plays what `open` opens (on a blocking thread): a message or a prompt, as G.711
    /// frames of the remote's ptime or, for an Opus call, as PCM.
    async fn play(
        &self,
        stream: &mut Stream,
        open: impl FnOnce(
            &dyn MessageAudio,
            codecs::g711::Law,
            usize,
        ) -> Result<Box<dyn FrameSource>, SourceError>
        + Send
        + 'static,
    ) {
        let Some(remote) = stream.remote().copied() else {
            self.fail("play before the gateway's media is known".into());
            return;
        };
        let frame = (remote.ptime.as_micros() * 8 / 1000) as usize;
        let audio = self.audio.clone();
        // An Opus call reads the audio as PCM (`FrameSource::next_pcm`): the law is then
        // unused.
        let law = law(remote.codec).unwrap_or(codecs::g711::Law::Ulaw);
        let opened = tokio::task::spawn_blocking(move || open(&*audio, law, frame)).await;
        match opened {
            Ok(Ok(source)) => stream.handle_play_message(now(), source),
            Ok(Err(e)) => self.fail(e.to_string()),
            Err(e) => self.fail(format!("message audio: {e}")),
        }
    }

    async fn flush(&self, stream: &mut Stream, rtp: &BatchSocket, rtcp: &BatchSocket) {
        while let Some(t) = stream.poll_transmit() {
            let socket = if t.rtcp { rtcp } else { rtp }.socket();
            if let Err(e) = socket.send_to(&t.payload, t.destination).await {
                debug!(call = %self.call, error = %e, to = %t.destination, "send failed");
            }
        }
        while let Some(e) = stream.poll_event() {
            let _ = self.events.send(e);
        }
        if let Some(f) = stream.poll_finished() {
            let (call, duration, speech, events) =
                (f.call, f.duration, f.speech, self.events.clone());
            let sink = f.sink;
            // Finishing patches the header and syncs: off the async threads, and the call
            // goes on meanwhile.
            tokio::spawn(async move {
                let event = match tokio::task::spawn_blocking(move || sink.finish()).await {
                    Ok(Ok(file)) => MediaEvent::Captured {
                        call,
                        file,
                        duration,
                        speech,
                    },
                    Ok(Err(e)) => MediaEvent::Failed {
                        call,
                        reason: format!("recording: {e}"),
                    },
                    Err(e) => MediaEvent::Failed {
                        call,
                        reason: format!("recording: {e}"),
                    },
                };
                let _ = events.send(event);
            });
        }
    }
}
