//! Counters and histograms exported at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

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
    /// Intercom latency inside the server: from the instant the media engine received the RTP
    /// datagram that completed a live buffer (as `recvmmsg` returned it) to the instant the
    /// WebSocket frame carrying that buffer was written to a recipient's session, one
    /// observation per session. Buffers sent by WebSocket clients are not observed.
    pub intercom_latency: Histogram,
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
        self.intercom_latency.render(
            &mut s,
            "offhook_intercom_latency_seconds",
            "Intercom from phones, inside the server: a live buffer's last RTP datagram \
             received (recvmmsg) to its WebSocket frame written, per recipient session.",
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

/// The upper bounds of [`Histogram`]'s buckets (Prometheus `le`), fine enough around
/// 1–10 ms to tell the goal (a p99 of 10 ms) from its neighbours, and up to seconds to show
/// stalls.
pub const LATENCY_BUCKETS: [Duration; 16] = [
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(3),
    Duration::from_millis(5),
    Duration::from_micros(7_500),
    Duration::from_millis(10),
    Duration::from_millis(15),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
];

/// A latency histogram with the fixed buckets of [`LATENCY_BUCKETS`]: one relaxed atomic
/// increment per bucket hit plus one for the sum, no lock, no allocation, so the WebSocket
/// writer can observe every frame it writes. Rendered as a Prometheus histogram (cumulative
/// `_bucket{le=…}` samples, `+Inf`, `_sum` in seconds and `_count`).
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket, not cumulative; the last one is `+Inf` (above every bound).
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// The sum of the observations, in nanoseconds (wraps after 584 years of latency).
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Counts one observation, in the first bucket whose bound is at least `d` (Prometheus's
    /// `le`: a value on a bound counts in that bucket).
    pub fn observe(&self, d: Duration) {
        let i = LATENCY_BUCKETS.partition_point(|b| *b < d);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Appends the histogram to a Prometheus text exposition as family `name`.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            match LATENCY_BUCKETS.get(i) {
                Some(le) => {
                    let le = le.as_secs_f64();
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = Duration::from_nanos(self.sum_ns.load(Ordering::Relaxed)).as_secs_f64();
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
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

    #[test]
    fn a_latency_on_a_bound_counts_in_that_bucket_and_the_render_is_cumulative() {
        let h = Histogram::default();
        for d in [
            Duration::ZERO,
            Duration::from_micros(250),
            Duration::from_nanos(250_001),
            Duration::from_millis(1),
            Duration::from_micros(9_999),
            Duration::from_millis(10),
            Duration::from_nanos(10_000_001),
            Duration::from_millis(2_500),
            Duration::from_secs(60),
        ] {
            h.observe(d);
        }
        assert_eq!(h.count(), 9);
        let mut text = String::new();
        h.render(&mut text, "x_seconds", "X.");
        let expected = "# HELP x_seconds X.\n\
             # TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.00025\"} 2\n\
             x_seconds_bucket{le=\"0.0005\"} 3\n\
             x_seconds_bucket{le=\"0.001\"} 4\n\
             x_seconds_bucket{le=\"0.002\"} 4\n\
             x_seconds_bucket{le=\"0.003\"} 4\n\
             x_seconds_bucket{le=\"0.005\"} 4\n\
             x_seconds_bucket{le=\"0.0075\"} 4\n\
             x_seconds_bucket{le=\"0.01\"} 6\n\
             x_seconds_bucket{le=\"0.015\"} 7\n\
             x_seconds_bucket{le=\"0.025\"} 7\n\
             x_seconds_bucket{le=\"0.05\"} 7\n\
             x_seconds_bucket{le=\"0.1\"} 7\n\
             x_seconds_bucket{le=\"0.25\"} 7\n\
             x_seconds_bucket{le=\"0.5\"} 7\n\
             x_seconds_bucket{le=\"1\"} 7\n\
             x_seconds_bucket{le=\"2.5\"} 8\n\
             x_seconds_bucket{le=\"+Inf\"} 9\n\
             x_seconds_sum 62.531499002\n\
             x_seconds_count 9\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_registry_renders_the_intercom_latency_family_empty_at_first() {
        let m = Metrics::default();
        let text = m.render();
        assert!(text.contains("# TYPE offhook_intercom_latency_seconds histogram\n"));
        assert!(text.contains("offhook_intercom_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(text.contains("offhook_intercom_latency_seconds_count 0\n"));
        m.intercom_latency.observe(Duration::from_millis(3));
        assert!(
            m.render()
                .contains("offhook_intercom_latency_seconds_bucket{le=\"0.003\"} 1\n")
        );
    }
}
