//! The host's counters.

/// What the host counted (every drop has one). Monotonic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages received from boards (datagrams, or frames of a TCP stream).
    pub messages_received: u64,
    /// Messages that could not be read: truncated, a lying length, a bad value, trailing bytes.
    pub malformed: u64,
    /// Messages with an event id Offhook does not read (or a command id, from a board).
    pub unknown_id: u64,
    /// TCP streams that could not be framed (a length out of bounds): each closed the connection.
    pub frame_errors: u64,
    /// Datagrams from an address no UDP board is configured at.
    pub unknown_source: u64,
    /// Inputs about a TCP connection the host had already given up.
    pub stale_link: u64,
    /// Events for a channel that is not a watched line.
    pub unknown_channel: u64,
    /// Commands sent (each once; retransmissions are counted apart).
    pub commands_sent: u64,
    /// UDP retransmissions.
    pub retransmits: u64,
    /// Acknowledgements that matched a command in flight.
    pub acks: u64,
    /// Acknowledgements that matched none: duplicates, late ones, or unknown sequence numbers.
    pub acks_unmatched: u64,
    /// `acEV_ERROR` events that failed a command in flight.
    pub errors_received: u64,
    /// `acEV_ERROR` events for a channel with no command in flight.
    pub errors_unmatched: u64,
    /// Commands whose acknowledgement never came (each ended the session).
    pub ack_timeouts: u64,
    /// `acEV_ANALOG_IF_FXS_STATUS` events that answered no query (a hook state learnt).
    pub status_unsolicited: u64,
    /// `acEV_KEEP_ALIVE` events.
    pub keepalives_received: u64,
    /// Keep-alive probes sent to silent boards.
    pub probes_sent: u64,
    /// TCP connection attempts.
    pub connects: u64,
    /// Sessions that came up (the board answered after a (re)connection).
    pub sessions_up: u64,
    /// Sessions lost (no answer, the connection closed or broke).
    pub sessions_lost: u64,
    /// Hook events (off, on, flash) reported.
    pub hook_events: u64,
    /// Hook events that matched the known state, not reported again.
    pub redundant_hook: u64,
    /// Digits reported (singly or in a dial string).
    pub digits: u64,
    /// Digit entries with a code that is no key, dropped.
    pub bad_digits: u64,
    /// Dial strings reported.
    pub dialled: u64,
    /// Ring start and end events (not reported: the model has none).
    pub ring_events: u64,
    /// Trunk events reported: incoming calls, dialling done, far-end answer and disconnect.
    pub trunk_events: u64,
    /// FXO events dropped: for an idle trunk or a station line, or out of place (a digit
    /// before the port is off hook, a dial end with no dialling, a second answer).
    pub trunk_dropped: u64,
    /// Model commands refused at once (unknown line, board not connected, a second connection…).
    pub commands_failed: u64,
    /// Model commands that failed once accepted: refused by the board, never acknowledged,
    /// lost with the session, or beyond a full queue.
    pub jobs_failed: u64,
}

impl Stats {
    /// `(name, value)` for each counter, for `/metrics` (`offhook_tpncp_total{kind="…"}`).
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("messages_received", self.messages_received),
            ("malformed", self.malformed),
            ("unknown_id", self.unknown_id),
            ("frame_errors", self.frame_errors),
            ("unknown_source", self.unknown_source),
            ("stale_link", self.stale_link),
            ("unknown_channel", self.unknown_channel),
            ("commands_sent", self.commands_sent),
            ("retransmits", self.retransmits),
            ("acks", self.acks),
            ("acks_unmatched", self.acks_unmatched),
            ("errors_received", self.errors_received),
            ("errors_unmatched", self.errors_unmatched),
            ("ack_timeouts", self.ack_timeouts),
            ("status_unsolicited", self.status_unsolicited),
            ("keepalives_received", self.keepalives_received),
            ("probes_sent", self.probes_sent),
            ("connects", self.connects),
            ("sessions_up", self.sessions_up),
            ("sessions_lost", self.sessions_lost),
            ("hook_events", self.hook_events),
            ("redundant_hook", self.redundant_hook),
            ("digits", self.digits),
            ("bad_digits", self.bad_digits),
            ("dialled", self.dialled),
            ("ring_events", self.ring_events),
            ("trunk_events", self.trunk_events),
            ("trunk_dropped", self.trunk_dropped),
            ("commands_failed", self.commands_failed),
            ("jobs_failed", self.jobs_failed),
        ]
        .into_iter()
    }
}
