//! Counters exported at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
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
    /// A login refused unchecked: too many failed logins from the client's address.
    LoginLimited,
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
    /// A WebSocket upgrade of a user who has as many sessions open as allowed.
    WsTooManySessions,
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
    /// Intercom audio sent faster than real time (beyond a small burst).
    IntercomTooFast,
    /// A state-changing request authenticated by the session cookie without the session's
    /// CSRF token, or sent from another site's page.
    Csrf,
    /// An upload, or the start of a recording, that would pass the user's storage quota.
    OverQuota,
    /// An upload faster than the user's upload rate.
    UploadTooFast,
    /// An upload, a recording or an intercom stream refused because the data directory's disk
    /// is down to its reserve (`messages.disk_reserve`).
    DiskFull,
}

impl Reject {
    const ALL: [Self; 31] = [
        Self::MalformedJson,
        Self::MalformedMultipart,
        Self::TooLarge,
        Self::BadAudio,
        Self::UnsupportedAudio,
        Self::UnknownRecipient,
        Self::BadLogin,
        Self::LoginLimited,
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
        Self::WsTooManySessions,
        Self::IntercomMalformed,
        Self::IntercomTooBig,
        Self::IntercomOutOfOrder,
        Self::IntercomTooManyStreams,
        Self::IntercomTooLong,
        Self::IntercomTooFast,
        Self::Csrf,
        Self::OverQuota,
        Self::UploadTooFast,
        Self::DiskFull,
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
            Self::LoginLimited => "login_limited",
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
            Self::WsTooManySessions => "ws_too_many_sessions",
            Self::IntercomMalformed => "intercom_malformed",
            Self::IntercomTooBig => "intercom_too_big",
            Self::IntercomOutOfOrder => "intercom_out_of_order",
            Self::IntercomTooManyStreams => "intercom_too_many_streams",
            Self::IntercomTooLong => "intercom_too_long",
            Self::IntercomTooFast => "intercom_too_fast",
            Self::Csrf => "csrf",
            Self::OverQuota => "over_quota",
            Self::UploadTooFast => "upload_too_fast",
            Self::DiskFull => "disk_full",
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
    /// Counter families reported by subsystems (protocol drivers, the media engine): the
    /// latest snapshot of each, by family name.
    families: Mutex<BTreeMap<&'static str, Family>>,
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    counters: Vec<(&'static str, u64)>,
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

    /// Records the latest snapshot of a family of counters, rendered as
    /// `family{kind="name"} value` lines under one `# HELP family help` (e.g. a protocol
    /// driver's `offhook_mgcp_total`, the media engine's `offhook_rtp_total`). Each call
    /// replaces the family's previous snapshot.
    pub fn set_family(
        &self,
        family: &'static str,
        help: &'static str,
        counters: impl IntoIterator<Item = (&'static str, u64)>,
    ) {
        let counters = counters.into_iter().collect();
        self.families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(family, Family { help, counters });
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
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        for (name, f) in families.iter() {
            let _ = writeln!(s, "# HELP {name} {}\n# TYPE {name} counter", f.help);
            for (kind, v) in &f.counters {
                let _ = writeln!(s, "{name}{{kind=\"{kind}\"}} {v}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_their_latest_snapshot_in_name_order() {
        let m = Metrics::default();
        m.set_family("offhook_rtp_total", "RTP.", [("datagrams", 1)]);
        m.set_family(
            "offhook_mgcp_total",
            "MGCP.",
            [("datagrams", 2), ("tx_timeouts", 3)],
        );
        m.set_family("offhook_rtp_total", "RTP.", [("datagrams", 4)]);
        let text = m.render();
        let mgcp = text.find("# HELP offhook_mgcp_total MGCP.\n# TYPE offhook_mgcp_total counter\noffhook_mgcp_total{kind=\"datagrams\"} 2\noffhook_mgcp_total{kind=\"tx_timeouts\"} 3\n");
        let rtp = text.find("offhook_rtp_total{kind=\"datagrams\"} 4\n");
        assert!(mgcp.is_some() && rtp.is_some() && mgcp < rtp, "{text}");
        assert!(!text.contains("} 1\n"));
    }
}
