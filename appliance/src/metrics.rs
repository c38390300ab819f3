//! Counters exported at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use station_manager::media;

/// Each kind of rejected request or frame, counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reject {
    /// A JSON body that does not parse or lacks fields.
    MalformedJson,
    /// A multipart body that does not parse or lacks fields.
    MalformedMultipart,
    /// A body over the upload cap.
    TooLarge,
    /// Audio that is malformed or lies about its length.
    BadAudio,
    /// Audio in a format we do not take.
    UnsupportedAudio,
    /// A recipient that does not exist.
    UnknownRecipient,
    /// A login with a wrong username or password.
    BadLogin,
    /// A request without a session.
    NoSession,
    /// A session token that is unknown.
    BadToken,
    /// A session token past its lifetime.
    ExpiredToken,
    /// A message or user the caller may not see.
    NotFound,
    /// A non-admin calling an admin endpoint.
    Forbidden,
    /// A request while shutting down.
    ShuttingDown,
    /// WebSocket frames faster than the limit.
    WsFlood,
    /// A WebSocket frame over the size limit.
    WsTooBig,
    /// A WebSocket frame that is not a valid message object.
    WsBadObject,
    /// A WebSocket message object with someone else's or the server's source.
    WsSpoofed,
    /// A WebSocket client that stopped answering pings.
    WsPingTimeout,
    /// A WebSocket client too slow to take its pushes.
    WsSlowClient,
    /// An intercom buffer (`send`) that is malformed: fields, base64, odd byte count.
    IntercomMalformed,
    /// An intercom buffer over the size limit.
    IntercomTooBig,
    /// An intercom buffer out of sequence.
    IntercomOutOfOrder,
    /// An intercom stream opened while the session has too many open.
    IntercomTooManyStreams,
    /// An intercom stream past `messages.max_duration`.
    IntercomTooLong,
}

impl Reject {
    const ALL: [Self; 24] = [
        Self::MalformedJson,
        Self::MalformedMultipart,
        Self::TooLarge,
        Self::BadAudio,
        Self::UnsupportedAudio,
        Self::UnknownRecipient,
        Self::BadLogin,
        Self::NoSession,
        Self::BadToken,
        Self::ExpiredToken,
        Self::NotFound,
        Self::Forbidden,
        Self::ShuttingDown,
        Self::WsFlood,
        Self::WsTooBig,
        Self::WsBadObject,
        Self::WsSpoofed,
        Self::WsPingTimeout,
        Self::WsSlowClient,
        Self::IntercomMalformed,
        Self::IntercomTooBig,
        Self::IntercomOutOfOrder,
        Self::IntercomTooManyStreams,
        Self::IntercomTooLong,
    ];

    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::MalformedMultipart => "malformed_multipart",
            Self::TooLarge => "too_large",
            Self::BadAudio => "bad_audio",
            Self::UnsupportedAudio => "unsupported_audio",
            Self::UnknownRecipient => "unknown_recipient",
            Self::BadLogin => "bad_login",
            Self::NoSession => "no_session",
            Self::BadToken => "bad_token",
            Self::ExpiredToken => "expired_token",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::ShuttingDown => "shutting_down",
            Self::WsFlood => "ws_flood",
            Self::WsTooBig => "ws_too_big",
            Self::WsBadObject => "ws_bad_object",
            Self::WsSpoofed => "ws_spoofed",
            Self::WsPingTimeout => "ws_ping_timeout",
            Self::WsSlowClient => "ws_slow_client",
            Self::IntercomMalformed => "intercom_malformed",
            Self::IntercomTooBig => "intercom_too_big",
            Self::IntercomOutOfOrder => "intercom_out_of_order",
            Self::IntercomTooManyStreams => "intercom_too_many_streams",
            Self::IntercomTooLong => "intercom_too_long",
        }
    }
}

/// A counter family: its help text and its samples by kind.
#[derive(Debug, Default)]
struct Family {
    help: &'static str,
    counters: Vec<(&'static str, u64)>,
}

/// The appliance's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    rejected: [AtomicU64; Reject::ALL.len()],
    /// Messages durably stored (acknowledged, as received).
    pub messages_accepted: AtomicU64,
    /// Messages transcoded and made ready.
    pub messages_ready: AtomicU64,
    /// Messages whose upload turned out corrupt at transcoding.
    pub messages_failed: AtomicU64,
    /// Copies acknowledged by a recipient's client.
    pub messages_delivered: AtomicU64,
    /// Pushes written towards a recipient's WebSocket.
    pub pushes: AtomicU64,
    /// Open WebSocket sessions.
    pub ws_sessions: AtomicI64,
    /// Successful logins.
    pub logins: AtomicU64,
    /// Counter families reported whole by their owners (a protocol driver's core), by name:
    /// `name{kind="…"} value`, as of the last report.
    families: Mutex<BTreeMap<&'static str, Family>>,
    /// The media engine's counters, as of its last report.
    media: Mutex<Option<media::Stats>>,
}

/// The media engine's counters by name: `offhook_rtp_total{kind=…}`.
fn media_counters(s: &media::Stats) -> [(&'static str, u64); 25] {
    [
        ("datagrams", s.datagrams),
        ("receive_calls", s.receive_calls),
        ("wrong_source", s.wrong_source),
        ("before_remote", s.before_remote),
        ("malformed", s.malformed),
        ("wrong_payload_type", s.wrong_payload_type),
        ("audio_packets", s.audio_packets),
        ("event_packets", s.event_packets),
        ("digits", s.digits),
        ("duplicates", s.duplicates),
        ("late", s.late),
        ("invalid", s.invalid),
        ("reordered", s.reordered),
        ("lost_frames", s.lost_frames),
        ("concealed_frames", s.concealed_frames),
        ("gap_samples", s.gap_samples),
        ("captured_samples", s.captured_samples),
        ("rtcp_received", s.rtcp_received),
        ("rtcp_wrong_source", s.rtcp_wrong_source),
        ("rtcp_malformed", s.rtcp_malformed),
        ("rtp_sent", s.rtp_sent),
        ("rtcp_sent", s.rtcp_sent),
        ("live_dropped", s.live_dropped),
        ("live_skipped", s.live_skipped),
        ("live_starved", s.live_starved),
    ]
}

impl Metrics {
    /// Counts one rejection.
    pub fn reject(&self, kind: Reject) {
        let i = Reject::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of one kind of rejection.
    pub fn rejected(&self, kind: Reject) -> u64 {
        let i = Reject::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.rejected[i].load(Ordering::Relaxed)
    }

    /// Replaces a counter family's samples, rendered `family{kind="name"} value` in the given
    /// order (a gateway driver calls this with its core's counters after each turn).
    pub fn set_family(
        &self,
        family: &'static str,
        help: &'static str,
        counters: impl IntoIterator<Item = (&'static str, u64)>,
    ) {
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let f = families.entry(family).or_default();
        f.help = help;
        // Refilled in place: no allocation once the family has been seen.
        f.counters.clear();
        f.counters.extend(counters);
    }

    /// Records the media engine's counters.
    pub fn set_media(&self, stats: media::Stats) {
        *self.media.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    /// The Prometheus text exposition of this registry's counters (the API adds the gauges it
    /// reads elsewhere with [`gauges`]).
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP offhook_rejected_total Requests and frames refused, by kind.\n");
        s.push_str("# TYPE offhook_rejected_total counter\n");
        for k in Reject::ALL {
            let _ = writeln!(
                s,
                "offhook_rejected_total{{kind=\"{}\"}} {}",
                k.label(),
                self.rejected(k)
            );
        }
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "offhook_messages_accepted_total",
            "Messages durably stored.",
            self.messages_accepted.load(Ordering::Relaxed),
        );
        counter(
            "offhook_messages_ready_total",
            "Messages transcoded and made ready for delivery.",
            self.messages_ready.load(Ordering::Relaxed),
        );
        counter(
            "offhook_messages_failed_total",
            "Messages whose upload was found corrupt at transcoding.",
            self.messages_failed.load(Ordering::Relaxed),
        );
        counter(
            "offhook_messages_delivered_total",
            "Message copies acknowledged by a recipient's client.",
            self.messages_delivered.load(Ordering::Relaxed),
        );
        counter(
            "offhook_pushes_total",
            "Message arrivals pushed to WebSocket sessions.",
            self.pushes.load(Ordering::Relaxed),
        );
        counter(
            "offhook_logins_total",
            "Successful logins.",
            self.logins.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP offhook_ws_sessions Open WebSocket sessions.\n# TYPE offhook_ws_sessions gauge\noffhook_ws_sessions {}",
            self.ws_sessions.load(Ordering::Relaxed)
        );
        for (name, f) in self
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(s, "# HELP {name} {}\n# TYPE {name} counter", f.help);
            for (kind, v) in &f.counters {
                let _ = writeln!(s, "{name}{{kind=\"{kind}\"}} {v}");
            }
        }
        let media = *self.media.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stats) = media {
            s.push_str("# HELP offhook_rtp_total Media engine RTP/RTCP traffic, drops and repairs, by kind (calls open and closed).\n");
            s.push_str("# TYPE offhook_rtp_total counter\n");
            for (kind, v) in media_counters(&stats) {
                let _ = writeln!(s, "offhook_rtp_total{{kind=\"{kind}\"}} {v}");
            }
        }
        s
    }
}

/// Appends gauges, `(name, help, value)`, to a Prometheus text exposition.
pub fn gauges(out: &mut String, gauges: &[(&str, &str, u64)]) {
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
}
