//! Offhook's voice-messaging core: the database, the client manager, the transcoder, the clock,
//! the sealing key and the settings, behind one type, [`VoiceMessaging`], that states each rule
//! once as a method (accept a message, mark it played, delete it for a user, resolve
//! recipients, request a recording, presence, live streams) and publishes what happened as
//! [`Event`]s.
//!
//! Front ends (the web crate; later the LCD panel, SIP, federation) and the stations subsystem
//! depend on this crate; it depends on none of them: imports run front ends and drivers →
//! domain → storage (`db`) and codecs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accept;
pub mod audio;
pub mod backup;
pub mod clients;
pub mod clock;
pub mod config;
mod core;
pub mod db;
pub mod devices;
mod directory;
pub mod events;
pub mod federation;
pub mod health;
pub mod intercom;
pub mod limits;
pub mod mailbox;
pub mod messaging;
pub mod metrics;
pub mod network;
mod phones;
mod presence;
pub mod settings;
mod transcode;
pub mod waveform;

pub use crate::config::{Config, ConfigError, Retention};
pub use crate::core::{OpenError, VoiceMessaging};
pub use crate::events::{Delivery, Event, LiveStreamId};
pub use crate::phones::{LineView, RecordError, RecordMode, RecordStatus};

#[cfg(test)]
mod tests;
