//! Counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
}

impl Reject {
    const ALL: [Self; 19] = [
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
        }
    }
}

/// The appliance's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    rejected: [AtomicU64; 19],
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

    /// The Prometheus text exposition.
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
        s
    }
}
