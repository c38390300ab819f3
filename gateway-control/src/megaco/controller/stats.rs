//! The controller's counters.

/// What the controller counted (every drop has one). Monotonic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages received, any encoding.
    pub messages_received: u64,
    /// Text messages (pretty or compact) received.
    pub text_received: u64,
    /// Binary messages received.
    pub binary_received: u64,
    /// Messages that could not be read (bad syntax, unknown encoding, too large).
    pub malformed: u64,
    /// Error descriptors sent for unreadable messages or transactions.
    pub errors_sent: u64,
    /// Messages naming an mId no gateway is configured with.
    pub unknown_mid: u64,
    /// Messages naming a gateway's mId from an address other than its configured one.
    pub wrong_address: u64,
    /// Registrations (ServiceChange Restart, Failover or Disconnected on ROOT) accepted.
    pub registrations: u64,
    /// ServiceChange Forced or Graceful (the gateway or a line going out of service).
    pub service_losses: u64,
    /// Notify requests received.
    pub notifies: u64,
    /// Observed events reported to the stations.
    pub events_reported: u64,
    /// Observed events dropped: an old RequestID, an unknown line or an event not armed.
    pub events_ignored: u64,
    /// Commands from a gateway the controller does not take (answered with an error).
    pub commands_refused: u64,
    /// Requests sent (each transaction once, retransmissions not counted).
    pub requests_sent: u64,
    /// Replies that carried an Error descriptor.
    pub error_replies: u64,
    /// Replies that matched no request of ours, or could not be understood.
    pub replies_unmatched: u64,
    /// Requests that got no reply in time.
    pub timeouts: u64,
    /// Model commands refused at once (unknown line, full queue, gateway down).
    pub commands_failed: u64,
    /// Messages that could not be encoded in the gateway's encoding.
    pub encode_failures: u64,
    /// Trunk inputs dropped: events out of place for the trunk's call (also counted in
    /// `events_ignored`) and caller ids out of bounds.
    pub trunk_inputs_dropped: u64,
}

impl Stats {
    /// `(name, value)` for each counter, for `/metrics`.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("messages_received", self.messages_received),
            ("text_received", self.text_received),
            ("binary_received", self.binary_received),
            ("malformed", self.malformed),
            ("errors_sent", self.errors_sent),
            ("unknown_mid", self.unknown_mid),
            ("wrong_address", self.wrong_address),
            ("registrations", self.registrations),
            ("service_losses", self.service_losses),
            ("notifies", self.notifies),
            ("events_reported", self.events_reported),
            ("events_ignored", self.events_ignored),
            ("commands_refused", self.commands_refused),
            ("requests_sent", self.requests_sent),
            ("error_replies", self.error_replies),
            ("replies_unmatched", self.replies_unmatched),
            ("timeouts", self.timeouts),
            ("commands_failed", self.commands_failed),
            ("encode_failures", self.encode_failures),
            ("trunk_inputs_dropped", self.trunk_inputs_dropped),
        ]
        .into_iter()
    }
}
