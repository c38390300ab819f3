//! The RTP media path: port allocation, RTP/RTCP streams with jitter buffers and source
//! checks, recording to files, playout.
//!
//! - Ports come from the station manager's `PortAllocator` (`station::calls`, even ports,
//!   RTCP on port + 1, RFC 3550 §11); the engine binds what `MediaCommand::Open` names.
//! - [`Stream`] is the sans-IO core of one call: symmetric RTP with a source check, RFC 3550
//!   parsing, payload-type check, RFC 4733 digits, a per-stream jitter buffer with G.711
//!   concealment or Opus decoding (RFC 7587: FEC, Opus concealment), capture (recording sink,
//!   silence, maximum length, live intercom buffers), paced playout of a stored message or of
//!   live buffers (G.711, or 20 ms Opus packets), and RTCP reports (RFC 3550 §6) on the
//!   codec's RTP clock. Asked to, it also watches what the line plays for call-progress tones
//!   and voice (`codecs::progress`; ITU-T E.180, ETSI TR 101 041-2) for trunk supervision.
//! - [`LiveQueue`] buffers a live intercom stream for a phone that is still being rung, and
//!   catches up once it plays, with a bound.
//! - [`Recorder`] streams captured PCM to a WAV file (`codecs::wav::WavWriter`).
//! - `driver` (feature `driver`) is the tokio `driver::MediaEngine`: one task
//!   per call owning its RTP and RTCP sockets.
//!
//! The appliance supplies stored messages and dial-in prompts through [`MessageAudio`], which
//! opens a [`FrameSource`] of G.711 frames, or of 8 kHz PCM frames for an Opus call
//! (`codecs::pipeline::G711Playout` behind it).

mod live;
mod recorder;
mod stream;

#[cfg(feature = "driver")]
pub mod batch;
#[cfg(feature = "driver")]
pub mod driver;

use std::io;
use std::ops::AddAssign;
use std::path::PathBuf;
use std::time::Duration;

use codecs::g711::Law;
use thiserror::Error;

pub use live::{LiveFrame, LiveQueue};
pub use recorder::Recorder;
pub use stream::{Finished, Stream, Transmit};

use crate::MessageId;

/// A stored message's audio, as G.711 frames for RTP, or as 8 kHz PCM for a codec the stream
/// encodes itself (Opus).
///
/// Implemented by the appliance over `codecs::pipeline::G711Playout`, whose `next_frame` and
/// `next_pcm` have these signatures. One stream calls only one of the two (G.711 calls
/// `next_frame`, Opus calls `next_pcm`), on the media engine's async threads once per frame,
/// so they must not block on I/O: [`MessageAudio::open`] (run on a blocking thread) should
/// read what it needs.
pub trait FrameSource: Send {
    /// Writes the next frame into `out` (one code per sample, `out.len()` samples; the last
    /// frame padded with silence) and returns true, or returns false at the end.
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError>;

    /// Writes the next `out.len()` samples of 8 kHz PCM into `out` (the last frame padded
    /// with silence) and returns true, or returns false at the end. The law the source was
    /// opened with does not apply. By default a source has no PCM: an Opus call playing it
    /// fails with this error.
    fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, SourceError> {
        let _ = out;
        Err(SourceError(
            "this message source gives G.711 only, not PCM for Opus".into(),
        ))
    }
}

/// The message store, as the media engine sees it.
pub trait MessageAudio: Send + Sync {
    /// Opens `message` for playout as `law` frames of `frame_samples` samples. May block (the
    /// engine calls it on a blocking thread). For an Opus call the engine passes `Law::Ulaw`
    /// and reads the source with [`FrameSource::next_pcm`] only.
    fn open(
        &self,
        message: MessageId,
        law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError>;

    /// Opens a dial-in prompt for playout, as [`MessageAudio::open`] does a message. By
    /// default there are no prompts: playing one fails with this error.
    fn open_prompt(
        &self,
        prompt: crate::Prompt,
        law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        let _ = (law, frame_samples);
        Err(SourceError(format!(
            "no recording of the {} prompt",
            prompt.name()
        )))
    }
}

/// A message could not be opened or decoded (reported as [`crate::MediaEvent::Failed`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("message audio: {0}")]
pub struct SourceError(pub String);

/// Where captured audio goes: 8 kHz 16-bit mono PCM, in order, as it is captured.
pub trait CaptureSink: Send {
    /// Appends samples.
    fn write(&mut self, pcm: &[i16]) -> io::Result<()>;
    /// Completes the recording and returns its file. May block (the driver runs it on a
    /// blocking thread).
    fn finish(self: Box<Self>) -> io::Result<PathBuf>;
}

/// Invalid configuration values (API misuse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// A value is over its limit.
    #[error("{0} is too large")]
    TooLarge(&'static str),
    /// The jitter-buffer configuration was refused.
    #[error("jitter buffer: {0}")]
    Jitter(#[from] codecs::jitter::ConfigError),
}

/// Media configuration shared by every stream. Build with [`Config::default`] and the setters.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) jitter: codecs::jitter::Config,
    pub(crate) rtcp_interval: Duration,
    pub(crate) live_queue_max: Duration,
    pub(crate) live_catchup: Duration,
    pub(crate) live_skip_every: u32,
    pub(crate) cname: String,
    pub(crate) seed: u64,
}

impl Default for Config {
    /// A jitter buffer that waits 200–500 ms for a missing packet, RTCP every 5 s, live
    /// queues of at most 20 s that catch up above 200 ms by dropping one frame in 4.
    ///
    /// Why 200 ms rather than the 60 ms of a playout buffer: audio in order is taken from the
    /// jitter buffer as soon as it arrives (see [`Stream`]), so the delay only says how long a
    /// missing packet is waited for before it is concealed. A recording has no playout clock,
    /// and a bursty sender (measured: a loaded gateway host or this machine under load holds
    /// packets back 60–300 ms) would otherwise turn late packets into concealment.
    fn default() -> Self {
        Self {
            jitter: capture_jitter(),
            rtcp_interval: Duration::from_secs(5),
            live_queue_max: Duration::from_secs(20),
            live_catchup: Duration::from_millis(200),
            live_skip_every: 4,
            cname: "offhook".into(),
            seed: 0x0ff_400c,
        }
    }
}

fn capture_jitter() -> codecs::jitter::Config {
    let mut j = codecs::jitter::Config::default();
    let set = j
        .max_delay(Duration::from_millis(500))
        .and_then(|j| j.target_delay(Duration::from_millis(200)))
        .and_then(|j| j.min_delay(Duration::from_millis(200)))
        .map(|j| j.clone());
    set.unwrap_or_default()
}

/// Largest `live_queue_max` accepted (bounds a live queue to 960 KB).
pub const MAX_LIVE_QUEUE: Duration = Duration::from_secs(60);

impl Config {
    /// The jitter buffer used for every received stream; its frame is set to 20 ms of 8 kHz
    /// audio (160 samples), which recordings and live buffers are built from.
    pub fn jitter(&mut self, mut jitter: codecs::jitter::Config) -> Result<&mut Self, ConfigError> {
        jitter.frame(stream::FRAME, 8000)?;
        self.jitter = jitter;
        Ok(self)
    }

    /// Mean interval between RTCP reports (RFC 3550 §6.2 recommends 5 s minimum).
    pub fn rtcp_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("rtcp_interval"));
        }
        self.rtcp_interval = d;
        Ok(self)
    }

    /// Most live audio held for one phone; older audio is dropped beyond it.
    pub fn live_queue_max(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("live_queue_max"));
        }
        if d > MAX_LIVE_QUEUE {
            return Err(ConfigError::TooLarge("live_queue_max"));
        }
        self.live_queue_max = d;
        Ok(self)
    }

    /// Backlog above which live playout catches up, dropping one frame in `skip_every`
    /// (`skip_every` ≥ 2; 4 plays 4/3 as fast).
    pub fn live_catchup(
        &mut self,
        above: Duration,
        skip_every: u32,
    ) -> Result<&mut Self, ConfigError> {
        if skip_every < 2 {
            return Err(ConfigError::TooLarge("live catch-up rate"));
        }
        self.live_catchup = above;
        self.live_skip_every = skip_every;
        Ok(self)
    }

    /// The RTCP CNAME (at most 255 bytes).
    pub fn cname(&mut self, cname: &str) -> Result<&mut Self, ConfigError> {
        if cname.len() > 255 {
            return Err(ConfigError::TooLarge("cname"));
        }
        self.cname = cname.into();
        Ok(self)
    }

    /// Seed for SSRCs, initial sequence numbers and timestamps, and RTCP interval jitter.
    pub fn seed(&mut self, seed: u64) -> Result<&mut Self, ConfigError> {
        self.seed = seed;
        Ok(self)
    }

    pub(crate) fn live_samples(&self, d: Duration) -> usize {
        (d.as_micros() * 8 / 1000) as usize
    }
}

/// Counters of one stream (and, summed with `+=`, of the engine). Every dropped datagram is
/// counted in exactly one of the `*_dropped`-style fields below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Datagrams on the RTP port.
    pub datagrams: u64,
    /// Dropped: from an address other than the gateway's (symmetric RTP).
    pub wrong_source: u64,
    /// Dropped: from the gateway's address but another SSRC than the one the stream pinned
    /// (forged, or a second source behind the same address).
    pub wrong_ssrc: u64,
    /// Dropped: arrived before the gateway's address was known.
    pub before_remote: u64,
    /// Dropped: not RTP (too short, bad version, bad lengths).
    pub malformed: u64,
    /// Dropped: a payload type other than the call's codec or telephone-event.
    pub wrong_payload_type: u64,
    /// Audio packets handed to the jitter buffer.
    pub audio_packets: u64,
    /// Telephone-event packets.
    pub event_packets: u64,
    /// Digits reported.
    pub digits: u64,
    /// Dropped by the jitter buffer: already seen.
    pub duplicates: u64,
    /// Dropped by the jitter buffer: after their playout time.
    pub late: u64,
    /// Dropped by the jitter buffer: not whole G.711 frames, or not a valid Opus packet.
    pub invalid: u64,
    /// Packets that arrived out of order (kept if in time).
    pub reordered: u64,
    /// Frames missing at playout (lost in the network, or late).
    pub lost_frames: u64,
    /// Of `lost_frames`, Opus frames rebuilt from the next packet's in-band FEC (RFC 7587
    /// §3.1.2) rather than concealed.
    pub fec_recovered: u64,
    /// Frames produced by concealment and written to a recording.
    pub concealed_frames: u64,
    /// Samples of silence written for a gap in the sender's timestamps (silence suppression).
    pub gap_samples: u64,
    /// Samples written to recordings.
    pub captured_samples: u64,
    /// RTCP datagrams received from the gateway.
    pub rtcp_received: u64,
    /// Dropped RTCP: from the wrong address or before the remote was known.
    pub rtcp_wrong_source: u64,
    /// Dropped RTCP: not a valid compound packet.
    pub rtcp_malformed: u64,
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// RTCP reports sent.
    pub rtcp_sent: u64,
    /// Live samples dropped because the queue was full (oldest first).
    pub live_dropped: u64,
    /// Live frames skipped to catch up.
    pub live_skipped: u64,
    /// Frames the playout clock found with no live audio queued.
    pub live_starved: u64,
    /// Receive system calls (`recvmmsg`) that returned RTP datagrams; the driver fills it in,
    /// so `datagrams / receive_calls` is the batching achieved.
    pub receive_calls: u64,
}

impl Stats {
    /// Every counter by name, for `/metrics` (`offhook_rtp_total{kind=…}`). The destructuring
    /// makes a new field a compile error here until it is listed.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + use<> {
        let Self {
            datagrams,
            receive_calls,
            wrong_source,
            wrong_ssrc,
            before_remote,
            malformed,
            wrong_payload_type,
            audio_packets,
            event_packets,
            digits,
            duplicates,
            late,
            invalid,
            reordered,
            lost_frames,
            fec_recovered,
            concealed_frames,
            gap_samples,
            captured_samples,
            rtcp_received,
            rtcp_wrong_source,
            rtcp_malformed,
            rtp_sent,
            rtcp_sent,
            live_dropped,
            live_skipped,
            live_starved,
        } = *self;
        [
            ("datagrams", datagrams),
            ("receive_calls", receive_calls),
            ("wrong_source", wrong_source),
            ("wrong_ssrc", wrong_ssrc),
            ("before_remote", before_remote),
            ("malformed", malformed),
            ("wrong_payload_type", wrong_payload_type),
            ("audio_packets", audio_packets),
            ("event_packets", event_packets),
            ("digits", digits),
            ("duplicates", duplicates),
            ("late", late),
            ("invalid", invalid),
            ("reordered", reordered),
            ("lost_frames", lost_frames),
            ("fec_recovered", fec_recovered),
            ("concealed_frames", concealed_frames),
            ("gap_samples", gap_samples),
            ("captured_samples", captured_samples),
            ("rtcp_received", rtcp_received),
            ("rtcp_wrong_source", rtcp_wrong_source),
            ("rtcp_malformed", rtcp_malformed),
            ("rtp_sent", rtp_sent),
            ("rtcp_sent", rtcp_sent),
            ("live_dropped", live_dropped),
            ("live_skipped", live_skipped),
            ("live_starved", live_starved),
        ]
        .into_iter()
    }
}

impl AddAssign for Stats {
    fn add_assign(&mut self, o: Self) {
        let Self {
            datagrams,
            wrong_source,
            wrong_ssrc,
            before_remote,
            malformed,
            wrong_payload_type,
            audio_packets,
            event_packets,
            digits,
            duplicates,
            late,
            invalid,
            reordered,
            lost_frames,
            fec_recovered,
            concealed_frames,
            gap_samples,
            captured_samples,
            rtcp_received,
            rtcp_wrong_source,
            rtcp_malformed,
            rtp_sent,
            rtcp_sent,
            live_dropped,
            live_skipped,
            live_starved,
            receive_calls,
        } = o;
        self.datagrams += datagrams;
        self.wrong_source += wrong_source;
        self.wrong_ssrc += wrong_ssrc;
        self.before_remote += before_remote;
        self.malformed += malformed;
        self.wrong_payload_type += wrong_payload_type;
        self.audio_packets += audio_packets;
        self.event_packets += event_packets;
        self.digits += digits;
        self.duplicates += duplicates;
        self.late += late;
        self.invalid += invalid;
        self.reordered += reordered;
        self.lost_frames += lost_frames;
        self.fec_recovered += fec_recovered;
        self.concealed_frames += concealed_frames;
        self.gap_samples += gap_samples;
        self.captured_samples += captured_samples;
        self.rtcp_received += rtcp_received;
        self.rtcp_wrong_source += rtcp_wrong_source;
        self.rtcp_malformed += rtcp_malformed;
        self.rtp_sent += rtp_sent;
        self.rtcp_sent += rtcp_sent;
        self.live_dropped += live_dropped;
        self.live_skipped += live_skipped;
        self.live_starved += live_starved;
        self.receive_calls += receive_calls;
    }
}

/// The G.711 law of a negotiated codec, or `None` for Opus (which plays PCM).
pub(crate) fn law(codec: gateway_control::model::Codec) -> Option<Law> {
    match codec {
        gateway_control::model::Codec::Pcmu => Some(Law::Ulaw),
        gateway_control::model::Codec::Pcma => Some(Law::Alaw),
        gateway_control::model::Codec::Opus { .. } => None,
    }
}
