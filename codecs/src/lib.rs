//! Offhook's media crate: every voice message passes through here.
//!
//! It arrives as G.711 in RTP from an analog line ([`g711`], [`rtp`], [`dtmf`], [`jitter`]), as a WAV
//! or Ogg Opus upload ([`wav`], [`ogg`], [`oggopus`]), or as live intercom frames; it is cleaned up
//! ([`cleanup`]), stored compact ([`opus`], [`xz`]) and sealed ([`seal`]), and played back as RTP or
//! as a file. [`pipeline`] ties these together, frame by frame.
//!
//! The crate does no I/O of its own beyond `std::io::Read`/`Write` streams handed to it, keeps no
//! clocks, and never panics on input: every parser returns a typed error.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
pub mod cleanup;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod ogg;
pub mod oggopus;
pub mod opus;
pub mod pipeline;
pub mod progress;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod seal;
pub mod wav;
pub mod xz;
