//! Counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use gateway_control::mgcp;
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
    /// The MGCP call agent's counters, as of its last turn.
    mgcp: Mutex<Option<mgcp::Stats>>,
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

/// The MGCP call agent's counters by name: `offhook_mgcp_total{kind=…}`.
fn mgcp_counters(s: &mgcp::Stats) -> [(&'static str, u64); 50] {
    let t = &s.transaction;
    [
        ("datagrams", s.datagrams),
        ("oversized", s.oversized),
        ("unknown_peer", s.unknown_peer),
        ("malformed_answered", s.malformed_answered),
        ("version_answered", s.version_answered),
        ("malformed_dropped", s.malformed_dropped),
        ("unknown_endpoint", s.unknown_endpoint),
        ("unsupported_commands", s.unsupported_commands),
        ("unmatched_responses", s.unmatched_responses),
        ("notifications", s.notifications),
        ("stale_notifications", s.stale_notifications),
        ("unrecognised_events", s.unrecognised_events),
        ("redundant_events", s.redundant_events),
        ("rqnts_sent", s.rqnts_sent),
        ("arm_failures", s.arm_failures),
        ("lines_unarmed", s.lines_unarmed),
        ("audits_sent", s.audits_sent),
        ("probes_sent", s.probes_sent),
        ("restarts", s.restarts),
        ("connections_lost", s.connections_lost),
        ("unknown_line_commands", s.unknown_line_commands),
        ("queue_full", s.queue_full),
        ("refused_unreachable", s.refused_unreachable),
        ("commands_failed", s.commands_failed),
        ("timeouts", s.timeouts),
        ("gateway_down", s.gateway_down),
        ("gateway_up", s.gateway_up),
        ("tx_commands_sent", t.commands_sent),
        ("tx_retransmissions", t.retransmissions),
        ("tx_timeouts", t.timeouts),
        ("tx_send_refused", t.send_refused),
        ("tx_final_responses", t.final_responses),
        ("tx_provisional_responses", t.provisional_responses),
        ("tx_unmatched_responses", t.unmatched_responses),
        ("tx_responses_from_wrong_peer", t.responses_from_wrong_peer),
        ("tx_rtt_samples", t.rtt_samples),
        ("tx_rtt_samples_skipped", t.rtt_samples_skipped),
        ("tx_commands_received", t.commands_received),
        ("tx_provisional_sent", t.provisional_sent),
        ("tx_responses_replayed", t.responses_replayed),
        ("tx_duplicates_after_ack", t.duplicates_after_ack),
        ("tx_responses_sent", t.responses_sent),
        ("tx_response_retransmissions", t.response_retransmissions),
        ("tx_history_evictions", t.history_evictions),
        ("tx_history_expired", t.history_expired),
        ("tx_history_refused", t.history_refused),
        ("tx_acks_received", t.acks_received),
        ("tx_response_acks_sent", t.response_acks_sent),
        ("tx_acks_piggybacked", t.acks_piggybacked),
        ("tx_acks_dropped", t.acks_dropped),
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

    /// Records the MGCP call agent's counters (called by its driver after each turn).
    pub fn set_mgcp(&self, stats: mgcp::Stats) {
        *self.mgcp.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
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
        let mgcp = *self.mgcp.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stats) = mgcp {
            s.push_str(
                "# HELP offhook_mgcp_total MGCP call agent events, drops and refusals, by kind.\n",
            );
            s.push_str("# TYPE offhook_mgcp_total counter\n");
            for (kind, v) in mgcp_counters(&stats) {
                let _ = writeln!(s, "offhook_mgcp_total{{kind=\"{kind}\"}} {v}");
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
