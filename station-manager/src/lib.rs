//! Offhook's station manager: the promise made to someone with only an analog phone.
//!
//! Each configured station (a user's phone on a gateway line) gets one [`station::Station`]
//! state machine: ring to record, ring to deliver and play, intercom. The stations see the
//! gateway only through [`gateway_control::model`] commands and events, and the RTP media only
//! through [`MediaCommand`]s and [`MediaEvent`]s, which the [`media`] engine carries out. The
//! instant-voice-messaging core (the appliance: users, messages, WebSocket clients) talks to the
//! stations with [`Input`]s and [`Output`]s. Everything here is sans-IO except
//! `media::driver` (feature `driver`), which owns the sockets, timers and files.
//!
//! ```text
//!  appliance (IVM core) ──Input──▶ StationManager ──model::Command──▶ gateway-control
//!                      ◀─Output──                ◀──model::Event───
//!                                       │ ▲
//!                            MediaCommand │ │ MediaEvent
//!                                       ▼ │
//!                                   media engine (RTP, jitter buffer, recorder, player)
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gateway_control::model::{CallId, Digit, LineId, Media};

pub mod manager;
pub mod media;
pub mod station;
pub mod trunk;

/// A user of the IVM core, by GUID (the appliance's user UUID, as bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub [u8; 16]);

/// A stored message, by GUID (the appliance's message UUID, as bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

/// A record request (`POST /api/v1/record`, `offhook record`), chosen by the appliance so that
/// its outcome can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A live intercom stream: one talk-spurt from one sender to its recipients, as successive
/// buffers. Streams a station starts (intercom spoken on a phone) have the top bit set
/// ([`station::STATION_STREAM_BIT`]); the appliance picks its own with it clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// How a recording reaches its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Stored, then delivered as a message (recipients ring / are pushed when it is complete).
    Record,
    /// Sent live in buffers while it is spoken (and also stored as a message).
    Intercom,
}

/// Why a capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The handset was put down.
    OnHook,
    /// The stop key (`#`) was pressed.
    StopKey,
    /// The configured silence time passed.
    Silence,
    /// The maximum length was reached.
    MaxLength,
    /// The gateway went down or dropped the connection; what was captured is kept.
    GatewayLost,
    /// The appliance is shutting down; what was captured is kept.
    Shutdown,
    /// The phone was taken from its user ([`crate::manager::StationManager::remove_station`]);
    /// what was captured is kept.
    Removed,
}

/// What the IVM core tells the station manager.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// Ring `user`'s phone to record a message for `to`.
    Record {
        /// Matches the eventual [`Output::Recorded`] or [`Output::RecordFailed`].
        request: RequestId,
        /// The user whose phone rings (the sender).
        user: UserId,
        /// The recipients.
        to: Vec<UserId>,
        /// Record or intercom (the appliance resolves `auto` from presence).
        delivery: Delivery,
    },
    /// A new stored message for `user`: ring (or signal message waiting) to have it heard.
    MessageWaiting {
        /// The recipient.
        user: UserId,
        /// The message.
        message: MessageId,
        /// Its sender (for `*` reply).
        from: UserId,
    },
    /// A message was removed or already played elsewhere: stop offering it.
    MessageGone {
        /// The recipient.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// An intercom stream to `user` begins: ring and play it live once picked up.
    LiveStart {
        /// The recipient.
        user: UserId,
        /// The stream.
        stream: StreamId,
        /// Its sender.
        from: UserId,
    },
    /// A buffer of an intercom stream (8 kHz 16-bit mono PCM).
    LiveBuffer {
        /// The stream.
        stream: StreamId,
        /// The audio.
        pcm: Vec<i16>,
    },
    /// The intercom stream ended.
    LiveEnd {
        /// The stream.
        stream: StreamId,
    },
    /// The answer to [`Output::Identify`]: who called in on `line` (`None`: the number and
    /// PIN do not match), and that user's messages waiting to be heard, oldest first, as
    /// `(message, sender)`.
    Identified {
        /// The trunk port.
        line: LineId,
        /// The caller, if the number and PIN matched.
        user: Option<UserId>,
        /// Their waiting messages.
        waiting: Vec<(MessageId, UserId)>,
    },
    /// The answer to [`Output::LookUp`]: who has that number, if anyone.
    Recipient {
        /// The trunk port.
        line: LineId,
        /// The user.
        user: Option<UserId>,
    },
    /// Intercom stream `stream` to `user` was stored as `message`. A phone of theirs that
    /// played the stream to its end does not offer the stored copy again: it answers
    /// [`Output::Played`] for it instead (whichever of the two comes first).
    LiveStored {
        /// The recipient.
        user: UserId,
        /// The stream.
        stream: StreamId,
        /// The stored copy.
        message: MessageId,
    },
}

/// A recorded prompt played to someone who called in over a trunk (dial-in). The appliance
/// ships one 8 kHz WAV file per prompt, named [`Prompt::name`]`.wav`, spoken from
/// [`Prompt::text`]; an owner may replace any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Prompt {
    /// Greets the caller and asks for their number.
    EnterNumber,
    /// Asks for the PIN.
    EnterPin,
    /// The number and PIN did not match.
    Wrong,
    /// Too many wrong tries, or nothing more to do: the call ends.
    Goodbye,
    /// What the keys do once identified.
    Menu,
    /// Nothing new to hear.
    NoMessages,
    /// Asks for the number of the person to leave a message for.
    EnterRecipient,
    /// No one has the number keyed.
    UnknownRecipient,
    /// Speak after the tone; `#` ends the message.
    SpeakAfterTone,
}

impl Prompt {
    /// Every prompt.
    pub const ALL: [Self; 9] = [
        Self::EnterNumber,
        Self::EnterPin,
        Self::Wrong,
        Self::Goodbye,
        Self::Menu,
        Self::NoMessages,
        Self::EnterRecipient,
        Self::UnknownRecipient,
        Self::SpeakAfterTone,
    ];

    /// The file's name, without `.wav`.
    pub fn name(self) -> &'static str {
        match self {
            Self::EnterNumber => "enter-number",
            Self::EnterPin => "enter-pin",
            Self::Wrong => "wrong",
            Self::Goodbye => "goodbye",
            Self::Menu => "menu",
            Self::NoMessages => "no-messages",
            Self::EnterRecipient => "enter-recipient",
            Self::UnknownRecipient => "unknown-recipient",
            Self::SpeakAfterTone => "speak-after-tone",
        }
    }

    /// What the shipped recording says.
    pub fn text(self) -> &'static str {
        match self {
            Self::EnterNumber => {
                "Welcome to Offhook. Please enter your number, then the pound key."
            }
            Self::EnterPin => "Please enter your PIN, then the pound key.",
            Self::Wrong => "That number and PIN do not match.",
            Self::Goodbye => "Goodbye.",
            Self::Menu => {
                "Press 1 to hear your new messages. Press 2 to leave a message for someone."
            }
            Self::NoMessages => "You have no new messages.",
            Self::EnterRecipient => {
                "Enter the number of the person you want to leave a message for, then the pound key."
            }
            Self::UnknownRecipient => "There is no one at that number.",
            Self::SpeakAfterTone => {
                "Speak after the tone. Press the pound key or hang up when you are done."
            }
        }
    }
}

/// What a trunk's media says while a call is placed or held, as the media engine hears it
/// (see [`MediaCommand::WatchProgress`]). Call-progress tones follow ITU-T E.180 and the
/// national plans (350+440 Hz dial tone, 480+620 Hz busy and reorder in North America; 425 Hz
/// in most of Europe), told apart by their cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Progress {
    /// Continuous dial tone.
    DialTone,
    /// Ringback (audible ringing): the far phone rings.
    Ringback,
    /// Busy tone (slow cadence).
    Busy,
    /// Reorder / congestion (fast cadence).
    Reorder,
    /// Speech, or anything that is not a call-progress tone: someone answered.
    Voice,
}

/// What the station manager tells the IVM core.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// A recording is complete: store it as a message from `user` to `to`.
    Recorded {
        /// The request it answers (`None` for a reply recorded with `*` while listening).
        request: Option<RequestId>,
        /// The sender.
        user: UserId,
        /// The recipients.
        to: Vec<UserId>,
        /// The recording: an 8 kHz 16-bit mono WAV file the media engine wrote; the IVM core
        /// takes it over (stores it, then removes it).
        file: PathBuf,
        /// Its length.
        duration: Duration,
        /// How much of it is speech. Zero means an empty recording (picked up, nothing said,
        /// the silence timer ended it): the caller heard the error tone, and the IVM core must
        /// not send it; it still takes the file over, to remove it and report why.
        speech: Duration,
        /// Why it stopped.
        reason: StopReason,
        /// The live stream it was also sent as, in intercom.
        stream: Option<StreamId>,
    },
    /// The phone was picked up for a record request (or a reply) and capture began: the
    /// user is speaking. [`Output::Recorded`] or [`Output::RecordFailed`] follows.
    Capturing {
        /// The request (`None` for a reply recorded with `*` while listening).
        request: Option<RequestId>,
        /// The speaker.
        user: UserId,
    },
    /// A record request failed; `reason` says why in words a user understands.
    RecordFailed {
        /// The request.
        request: RequestId,
        /// Why (no answer, gateway down, line busy…).
        reason: String,
    },
    /// A live buffer spoken on `user`'s phone in intercom (8 kHz 16-bit mono PCM, the configured
    /// buffer size; the last one may be shorter).
    LiveBuffer {
        /// The sender.
        user: UserId,
        /// The recipients.
        to: Vec<UserId>,
        /// The stream.
        stream: StreamId,
        /// Buffer number, from 0.
        seq: u64,
        /// The audio.
        pcm: Vec<i16>,
        /// When the datagram that completed this buffer was received (the media driver's
        /// `now` as `recvmmsg` returned it): the start of the server-side intercom latency.
        received: Instant,
    },
    /// The live stream from `user` ended.
    LiveEnd {
        /// The sender.
        user: UserId,
        /// The stream.
        stream: StreamId,
    },
    /// `user` heard `message` to its end on their phone.
    Played {
        /// The listener.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// `user` deleted `message` from their phone (key `7`).
    Deleted {
        /// The listener.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// Someone who called in on trunk port `line` keyed a number and PIN (the number may
    /// come from caller id): answer with [`Input::Identified`]. The IVM core checks the PIN
    /// and counts wrong ones.
    Identify {
        /// The trunk port the call is on (one call per port).
        line: LineId,
        /// The number (digits only).
        number: String,
        /// The PIN (digits only).
        pin: String,
    },
    /// The identified caller on `line` keyed the number of someone to leave a message for:
    /// answer with [`Input::Recipient`].
    LookUp {
        /// The trunk port.
        line: LineId,
        /// The number keyed.
        number: String,
    },
}

/// What a station asks of the media engine for one connection (identified by the same
/// [`CallId`] as the gateway connection).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Open an RTP socket for the call on `port` (from the port allocator) before the gateway
    /// connection is created; Offhook's side of the media is `media_address:port`.
    Open {
        /// The connection.
        call: CallId,
        /// The local RTP port (RTCP on port + 1).
        port: u16,
        /// The line, for logs and source checks.
        line: LineId,
    },
    /// The gateway's side of the connection is known: send RTP there, accept RTP only from
    /// there (symmetric RTP; anything else is dropped and counted).
    Remote {
        /// The connection.
        call: CallId,
        /// Where the gateway sends from and receives on.
        remote: Media,
    },
    /// Start writing what the line says to a new recording file; detect silence after
    /// `silence` (if set) and stop at `max_length`.
    StartCapture {
        /// The connection.
        call: CallId,
        /// Silence time that ends the recording, if any.
        silence: Option<Duration>,
        /// Longest recording.
        max_length: Duration,
        /// Also emit [`MediaEvent::Buffer`]s of this many samples (intercom), if set.
        live_buffer: Option<usize>,
    },
    /// Stop capturing; answered by [`MediaEvent::Captured`].
    StopCapture {
        /// The connection.
        call: CallId,
    },
    /// Play a stored message to the line (paced at the connection's ptime); answered by
    /// [`MediaEvent::PlayDone`] unless stopped.
    PlayMessage {
        /// The connection.
        call: CallId,
        /// The message (the engine asks the IVM core's store for its audio).
        message: MessageId,
    },
    /// Play live intercom buffers as they come ([`Input::LiveBuffer`] is forwarded), catching up
    /// after a wait without unbounded growth.
    PlayLive {
        /// The connection.
        call: CallId,
        /// The stream.
        stream: StreamId,
    },
    /// One buffer of the live stream started with [`MediaCommand::PlayLive`] (8 kHz 16-bit mono
    /// PCM), in order. The station holds at most its configured backlog while the phone rings;
    /// once playing, buffers are forwarded as they come and the engine catches up (bounded).
    LiveBuffer {
        /// The connection.
        call: CallId,
        /// The audio.
        pcm: Vec<i16>,
    },
    /// The live stream started with [`MediaCommand::PlayLive`] has no more buffers: play out
    /// what is queued, then answer [`MediaEvent::PlayDone`].
    LiveEnd {
        /// The connection.
        call: CallId,
    },
    /// Play a recorded prompt (see [`Prompt`]) to the line; answered by
    /// [`MediaEvent::PlayDone`] unless stopped, like a message.
    PlayPrompt {
        /// The connection.
        call: CallId,
        /// Which prompt (the engine asks [`media::MessageAudio::open_prompt`] for it).
        prompt: Prompt,
    },
    /// Listen to what the line plays (trunk supervision): report call-progress tones and
    /// voice as [`MediaEvent::Progress`] each time what is heard changes, until the
    /// connection closes. Works alongside capture and playback.
    WatchProgress {
        /// The connection.
        call: CallId,
    },
    /// Stop any playback on the connection.
    StopPlay {
        /// The connection.
        call: CallId,
    },
    /// Close the socket and release the port.
    Close {
        /// The connection.
        call: CallId,
    },
}

/// What the media engine reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// An RFC 4733 digit arrived in-band.
    Digit {
        /// The connection.
        call: CallId,
        /// The key.
        digit: Digit,
    },
    /// The silence time passed while capturing.
    Silence {
        /// The connection.
        call: CallId,
    },
    /// The maximum length was reached while capturing.
    MaxLength {
        /// The connection.
        call: CallId,
    },
    /// A live buffer captured in intercom (see [`MediaCommand::StartCapture`]).
    Buffer {
        /// The connection.
        call: CallId,
        /// Buffer number from 0.
        seq: u64,
        /// The audio.
        pcm: Vec<i16>,
        /// The `now` of the input that completed the buffer: for a buffer completed by an RTP
        /// datagram, the instant the driver received it (taken as `recvmmsg` returned); for one
        /// completed by a timeout (a frame the jitter buffer released late) or by stopping the
        /// capture, that call's `now`.
        received: Instant,
    },
    /// A capture was finalised.
    Captured {
        /// The connection.
        call: CallId,
        /// The WAV file written.
        file: PathBuf,
        /// Its length.
        duration: Duration,
        /// How much of it the voice-activity detector (`codecs::cleanup::Vad`) judged speech;
        /// zero when nothing was said.
        speech: Duration,
    },
    /// What the line plays changed (after [`MediaCommand::WatchProgress`]): a call-progress
    /// tone was recognised by its frequencies and cadence, or voice was heard.
    Progress {
        /// The connection.
        call: CallId,
        /// What is heard now.
        heard: Progress,
    },
    /// A message or live stream finished playing.
    PlayDone {
        /// The connection.
        call: CallId,
    },
    /// The media for the call failed (port, file, or the message could not be opened).
    Failed {
        /// The connection.
        call: CallId,
        /// Why.
        reason: String,
    },
}
