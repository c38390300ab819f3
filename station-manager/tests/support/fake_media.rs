//! The media-engine stand-in of the scenario harness ([`FakeMedia`]): it answers each
//! [`MediaCommand`] with plausible [`MediaEvent`]s at virtual times — `Captured` with a made-up
//! temp file path and the time captured, `MaxLength` at the asked maximum, a live `Buffer`
//! every 20 ms in intercom, `PlayDone` after a message's length ([`MESSAGE_LENGTH`]) or a
//! prompt's ([`PROMPT_LENGTH`]) — and records every command it was given.
//!
//! Call-progress watching (`WatchProgress`) reports nothing by itself: a test says what the
//! line plays with [`FakeMedia::progress_at`], and the event reaches the station only if the
//! call is open and watched by then (as the real engine reports only what it listens for).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use gateway_control::model::{CallId, LineId};
use station_manager::{MediaCommand, MediaEvent, Progress, Prompt};

/// How long each stored message plays in the stand-in.
pub(crate) const MESSAGE_LENGTH: Duration = Duration::from_secs(3);
/// How long each prompt plays in the stand-in.
pub(crate) const PROMPT_LENGTH: Duration = Duration::from_secs(2);
/// The stand-in's live buffer interval.
const BUFFER_EVERY: Duration = Duration::from_millis(20);

/// One open call in the stand-in.
#[derive(Debug)]
struct FakeCall {
    line: LineId,
    capture_from: Option<Instant>,
    live_buffer: Option<usize>,
    live_in: usize,
    watching: bool,
}

/// The media-engine stand-in.
#[derive(Debug, Default)]
pub(crate) struct FakeMedia {
    calls: HashMap<CallId, FakeCall>,
    scheduled: Vec<(Instant, MediaEvent)>,
    pub(crate) events: VecDeque<MediaEvent>,
    /// Every command received, in order.
    pub(crate) log: Vec<MediaCommand>,
    /// Every prompt played, by call, in order.
    pub(crate) prompts: Vec<(CallId, Prompt)>,
    /// Calls ever watched for call progress.
    watched: HashSet<CallId>,
    /// Progress the test injected that nobody was listening for (the call closed, never
    /// opened, or not watched): not delivered.
    pub(crate) unheard_progress: usize,
}

fn call_of(e: &MediaEvent) -> CallId {
    match e {
        MediaEvent::Digit { call, .. }
        | MediaEvent::Silence { call }
        | MediaEvent::MaxLength { call }
        | MediaEvent::Buffer { call, .. }
        | MediaEvent::Captured { call, .. }
        | MediaEvent::Progress { call, .. }
        | MediaEvent::PlayDone { call }
        | MediaEvent::Failed { call, .. } => *call,
        _ => unreachable!("the stand-in makes no other event"),
    }
}

impl FakeMedia {
    fn cancel(&mut self, call: CallId, what: fn(&MediaEvent) -> bool) {
        self.scheduled
            .retain(|(_, e)| !(call_of(e) == call && what(e)));
    }

    /// Carries out a station's command at `now`.
    pub(crate) fn handle(&mut self, now: Instant, cmd: MediaCommand) {
        self.log.push(cmd.clone());
        match cmd {
            MediaCommand::Open { call, line, .. } => {
                let c = FakeCall {
                    line,
                    capture_from: None,
                    live_buffer: None,
                    live_in: 0,
                    watching: false,
                };
                assert!(self.calls.insert(call, c).is_none());
            }
            MediaCommand::Remote { call, .. } => assert!(self.calls.contains_key(&call)),
            MediaCommand::StartCapture {
                call,
                max_length,
                live_buffer,
                ..
            } => {
                let c = self.calls.get_mut(&call).expect("capture on an open call");
                c.capture_from = Some(now);
                c.live_buffer = live_buffer;
                self.scheduled
                    .push((now + max_length, MediaEvent::MaxLength { call }));
                if let Some(n) = live_buffer {
                    self.scheduled.push((
                        now + BUFFER_EVERY,
                        MediaEvent::Buffer {
                            call,
                            seq: 0,
                            pcm: vec![0; n],
                            received: now + BUFFER_EVERY,
                        },
                    ));
                }
            }
            MediaCommand::StopCapture { call } => {
                let c = self.calls.get_mut(&call).expect("stop on an open call");
                if let Some(from) = c.capture_from.take() {
                    self.events.push_back(MediaEvent::Captured {
                        call,
                        file: std::env::temp_dir().join(format!("offhook-test-{call}.wav")),
                        duration: now - from,
                        // The simulated line always speaks.
                        speech: now - from,
                    });
                }
                self.cancel(call, |e| {
                    matches!(e, MediaEvent::MaxLength { .. } | MediaEvent::Buffer { .. })
                });
            }
            MediaCommand::PlayMessage { call, .. } => {
                self.scheduled
                    .push((now + MESSAGE_LENGTH, MediaEvent::PlayDone { call }));
            }
            MediaCommand::PlayPrompt { call, prompt } => {
                assert!(self.calls.contains_key(&call), "prompt on an open call");
                self.prompts.push((call, prompt));
                self.scheduled
                    .push((now + PROMPT_LENGTH, MediaEvent::PlayDone { call }));
            }
            MediaCommand::WatchProgress { call } => {
                self.calls
                    .get_mut(&call)
                    .expect("watch on an open call")
                    .watching = true;
                self.watched.insert(call);
            }
            MediaCommand::PlayLive { call, .. } => assert!(self.calls.contains_key(&call)),
            MediaCommand::LiveBuffer { call, .. } => {
                self.calls
                    .get_mut(&call)
                    .expect("live on an open call")
                    .live_in += 1;
            }
            MediaCommand::LiveEnd { call } => {
                // Plays out what it holds (bounded by what the station sent), 20 ms a buffer.
                self.scheduled
                    .push((now + BUFFER_EVERY, MediaEvent::PlayDone { call }));
            }
            MediaCommand::StopPlay { call } => {
                self.cancel(call, |e| matches!(e, MediaEvent::PlayDone { .. }));
            }
            MediaCommand::Close { call } => {
                assert!(self.calls.remove(&call).is_some(), "close of an open call");
                self.cancel(call, |e| !matches!(e, MediaEvent::Progress { .. }));
            }
            other => panic!("unexpected media command {other:?}"),
        }
    }

    /// Reports the events due by `now`, oldest first.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<(Instant, MediaEvent)> = Vec::new();
        self.scheduled.retain(|(at, e)| {
            if *at <= now {
                due.push((*at, e.clone()));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(at, _)| *at);
        for (at, e) in due {
            match &e {
                MediaEvent::Buffer { call, seq, pcm, .. } => {
                    self.scheduled.push((
                        at + BUFFER_EVERY,
                        MediaEvent::Buffer {
                            call: *call,
                            seq: seq + 1,
                            pcm: pcm.clone(),
                            received: at + BUFFER_EVERY,
                        },
                    ));
                }
                MediaEvent::Progress { call, .. } if !self.is_watching(*call) => {
                    self.unheard_progress += 1;
                    continue;
                }
                _ => {}
            }
            self.events.push_back(e);
        }
    }

    /// When the next scheduled event is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.scheduled.iter().map(|(at, _)| *at).min()
    }

    /// Live buffers the call was given to play.
    pub(crate) fn live_in(&self, call: CallId) -> usize {
        self.calls.get(&call).map_or(0, |c| c.live_in)
    }

    /// Makes the engine report `e` now (an in-band digit, silence).
    pub(crate) fn inject(&mut self, e: MediaEvent) {
        self.events.push_back(e);
    }

    /// The line plays `heard` from `at` on (a virtual time, now or later): reported as
    /// `Progress` at `at` if `call` is then open and watched, else counted in
    /// [`unheard_progress`](Self::unheard_progress).
    pub(crate) fn progress_at(&mut self, at: Instant, call: CallId, heard: Progress) {
        self.scheduled
            .push((at, MediaEvent::Progress { call, heard }));
    }

    /// Whether `call` is open and its progress watched.
    pub(crate) fn is_watching(&self, call: CallId) -> bool {
        self.calls.get(&call).is_some_and(|c| c.watching)
    }

    /// Whether `call` is open.
    pub(crate) fn is_open(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    /// Whether `call` was ever watched for call progress.
    pub(crate) fn was_watched(&self, call: CallId) -> bool {
        self.watched.contains(&call)
    }

    /// The open call whose media was opened for `line`, if any.
    pub(crate) fn call_on(&self, line: &LineId) -> Option<CallId> {
        self.calls
            .iter()
            .find(|(_, c)| &c.line == line)
            .map(|(call, _)| *call)
    }
}
