//! Domain events: what the voice-messaging core tells the subsystems that act on it (the
//! stations subsystem driving the users' phones, later the LCD panel, SIP and federation).
//!
//! Each subscriber gets its own unbounded channel, not a `tokio::sync::broadcast`: the events
//! are state changes a phone must not miss (a lost [`Event::MessageReady`] would leave a phone
//! silent for a stored message, a lost [`Event::LiveBuffer`] a gap in live audio), and a
//! broadcast drops the oldest events for a subscriber that lags. They are small (live audio is
//! shared as `Arc<[i16]>`), produced at the rate users act, and consumed by one task each, which
//! is what the station manager's input queue was before this channel.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use uuid::Uuid;

/// A live stream played to the users' phones (an intercom stream from a client, or from a phone
/// to other phones): the core's id for it, unique while the appliance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LiveStreamId(pub u64);

/// How a recording requested from a phone reaches its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Live to those online, and stored.
    Intercom,
    /// Stored, then delivered.
    Record,
}

impl Delivery {
    /// Its name in the API (`"intercom"`, `"record"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intercom => "intercom",
            Self::Record => "record",
        }
    }
}

/// Something that happened in the core.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A message was transcoded and is ready for `recipients`: their phones offer it.
    MessageReady {
        /// The message.
        message: Uuid,
        /// Its sender.
        from: Uuid,
        /// Its recipients.
        recipients: Vec<Uuid>,
    },
    /// `user` played or deleted `message` (on any front end): their phones stop offering it.
    MessageGone {
        /// The user.
        user: Uuid,
        /// The message.
        message: Uuid,
    },
    /// `user` asked to record on their phone (request `request`) for `to`.
    RecordingRequested {
        /// The request's id (see `VoiceMessaging::record_status`).
        request: u64,
        /// Whose phone rings.
        user: Uuid,
        /// The recipients.
        to: Vec<Uuid>,
        /// How it is sent.
        delivery: Delivery,
    },
    /// A live stream from `from` begins for the recipients with phones in `to`.
    LiveStart {
        /// The stream.
        stream: LiveStreamId,
        /// The speaker.
        from: Uuid,
        /// The recipients with phones.
        to: Vec<Uuid>,
    },
    /// A buffer of a live stream (8 kHz 16-bit mono PCM).
    LiveBuffer {
        /// The stream.
        stream: LiveStreamId,
        /// The audio.
        pcm: Arc<[i16]>,
    },
    /// A live stream ended.
    LiveEnd {
        /// The stream.
        stream: LiveStreamId,
    },
    /// Live stream `stream` was stored as `message` for `to`: a phone that played the stream
    /// to its end marks the stored copy played instead of offering it again.
    LiveStored {
        /// The stream.
        stream: LiveStreamId,
        /// The recipients with phones.
        to: Vec<Uuid>,
        /// The stored message.
        message: Uuid,
    },
    /// Users' phone lines changed in the database (a user added with a line or removed, or
    /// their lines set): the stations subsystem reads them again.
    StationsChanged,
    /// `user` came online, went offline, or set a status.
    Presence {
        /// The user.
        user: Uuid,
        /// Online (a WebSocket session is open).
        online: bool,
        /// The status they set, if any.
        status: Option<String>,
    },
}

/// The subscribers.
#[derive(Debug, Default)]
pub(crate) struct Bus {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
}

impl Bus {
    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// Sends `event` to every subscriber; those that have gone are forgotten. Returns how many
    /// got it.
    pub(crate) fn publish(&self, event: Event) -> usize {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
        subs.len()
    }
}
