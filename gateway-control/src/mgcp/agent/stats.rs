//! What the call agent counts ([`Stats`]), and the names `/metrics` renders them under.

use super::transaction;
#[cfg(doc)]
use super::{Config, MAX_DATAGRAM};
#[cfg(doc)]
use crate::model::{Command, Event};

/// What the call agent counts. Every dropped or refused input has a counter; transaction-layer
/// counters are in [`Stats::transaction`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Datagrams over [`MAX_DATAGRAM`], dropped.
    pub oversized: u64,
    /// Datagrams from an address that is no configured gateway, dropped.
    pub unknown_peer: u64,
    /// Unparseable commands answered `510`.
    pub malformed_answered: u64,
    /// Commands of another protocol version answered `528`.
    pub version_answered: u64,
    /// Unparseable datagrams dropped (no transaction id to answer).
    pub malformed_dropped: u64,
    /// Commands naming an unknown endpoint, answered `500`.
    pub unknown_endpoint: u64,
    /// Commands a call agent does not take (CRCX from a gateway…), answered `504`.
    pub unsupported_commands: u64,
    /// Responses to nothing we sent, or duplicates, dropped.
    pub unmatched_responses: u64,
    /// Notifications received (new, not duplicates).
    pub notifications: u64,
    /// Keep-alives answered: `NTFY` for `*@gateway` with nothing observed (Cisco IOS).
    pub keepalives: u64,
    /// Dial strings collected under a digit map and reported ([`Event::Dialled`]).
    pub dial_strings: u64,
    /// Gateways given a new address ([`Command::GatewayAddress`]: a DNS name resolved again).
    pub address_changes: u64,
    /// Notifications for a request id that was not current (answered 200 and resynchronised).
    pub stale_notifications: u64,
    /// Observed events we never ask for, ignored.
    pub unrecognised_events: u64,
    /// Trunk commands for a line that is not a trunk, and trunk events out of place (an event
    /// for an idle trunk, digits with no call up), dropped.
    pub trunk_out_of_place: u64,
    /// Observed hook events that matched the known hook state, not reported again.
    pub redundant_events: u64,
    /// RQNTs sent.
    pub rqnts_sent: u64,
    /// Re-arms refused by the gateway.
    pub arm_failures: u64,
    /// Times a line was left unarmed after [`Config::max_arm_failures`] failures (it is tried
    /// again after [`Config::arm_retry_interval`]).
    pub lines_unarmed: u64,
    /// Lines added while running ([`Command::AddLine`] for a line not yet watched).
    pub lines_added: u64,
    /// Lines removed ([`Command::RemoveLine`]).
    pub lines_removed: u64,
    /// Audits sent (start-up, model, resynchronisation, probes).
    pub audits_sent: u64,
    /// Probes of unreachable gateways.
    pub probes_sent: u64,
    /// RestartInProgress commands received.
    pub restarts: u64,
    /// Restart claims (`RM: forced` for the gateway or a line, or a graceful delay over) that
    /// the audit refuted: the gateway answered in service. Forged, or a gateway that lies.
    pub restart_claims_refuted: u64,
    /// Restart claims the audit confirmed (out of service, or no answer in time).
    pub restart_claims_confirmed: u64,
    /// Gateway-initiated deletes received.
    pub connections_lost: u64,
    /// Model commands for a line that is not configured.
    pub unknown_line_commands: u64,
    /// Model commands refused because the gateway's queue was full.
    pub queue_full: u64,
    /// Model commands refused because the gateway was unreachable.
    pub refused_unreachable: u64,
    /// Model commands that failed (any cause).
    pub commands_failed: u64,
    /// Commands that timed out.
    pub timeouts: u64,
    /// Times a gateway was reported down.
    pub gateway_down: u64,
    /// Times a gateway was reported up.
    pub gateway_up: u64,
    /// Messages that went out piggy-backed behind another in the same datagram
    /// ([`Config::piggyback`]).
    pub piggybacked: u64,
    /// Messages taken from a gateway's IP address but another port than the configured one
    /// (a command is answered to where it came from; a response must answer a command in
    /// flight to that gateway). Each new source is logged at `warn` once.
    pub unexpected_source: u64,
    /// Messages from another address that name a configured gateway's endpoints (a gateway
    /// that moved, or a forgery): not taken, logged at `warn` naming the configured address.
    pub wrong_address: u64,
    /// Lines of responses that were not understood (outside the grammar, or unknown
    /// parameters such as `X-…`), skipped while the rest of the response was used.
    pub response_lines_skipped: u64,
    /// Times a gateway was found speaking another version or profile than before (MGCP 0.1,
    /// NCS 1.0); commands to it follow.
    pub dialect_changes: u64,
    /// Transaction-layer counters.
    pub transaction: transaction::Stats,
}

impl Stats {
    /// Every exported counter as `(name, value)`, in a fixed order: the agent's own, then the
    /// transaction layer's with a `tx_` prefix. `/metrics` renders these names.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        // No `..`: a new field does not compile until it is listed here (or named `_`).
        let Self {
            datagrams,
            oversized,
            unknown_peer,
            malformed_answered,
            version_answered,
            malformed_dropped,
            unknown_endpoint,
            unsupported_commands,
            unmatched_responses,
            notifications,
            keepalives,
            stale_notifications,
            unrecognised_events,
            redundant_events,
            rqnts_sent,
            arm_failures,
            lines_unarmed,
            lines_added,
            lines_removed,
            audits_sent,
            probes_sent,
            restarts,
            restart_claims_refuted,
            restart_claims_confirmed,
            connections_lost,
            unknown_line_commands,
            queue_full,
            refused_unreachable,
            commands_failed,
            timeouts,
            gateway_down,
            gateway_up,
            // Not exported (it was never in `/metrics`).
            piggybacked: _,
            unexpected_source,
            wrong_address,
            response_lines_skipped,
            dialect_changes,
            dial_strings,
            address_changes,
            trunk_out_of_place,
            transaction,
        } = *self;
        [
            ("datagrams", datagrams),
            ("oversized", oversized),
            ("unknown_peer", unknown_peer),
            ("malformed_answered", malformed_answered),
            ("version_answered", version_answered),
            ("malformed_dropped", malformed_dropped),
            ("unknown_endpoint", unknown_endpoint),
            ("unsupported_commands", unsupported_commands),
            ("unmatched_responses", unmatched_responses),
            ("notifications", notifications),
            ("keepalives", keepalives),
            ("stale_notifications", stale_notifications),
            ("unrecognised_events", unrecognised_events),
            ("redundant_events", redundant_events),
            ("rqnts_sent", rqnts_sent),
            ("arm_failures", arm_failures),
            ("lines_unarmed", lines_unarmed),
            ("lines_added", lines_added),
            ("lines_removed", lines_removed),
            ("audits_sent", audits_sent),
            ("probes_sent", probes_sent),
            ("restarts", restarts),
            ("restart_claims_refuted", restart_claims_refuted),
            ("restart_claims_confirmed", restart_claims_confirmed),
            ("connections_lost", connections_lost),
            ("unknown_line_commands", unknown_line_commands),
            ("queue_full", queue_full),
            ("refused_unreachable", refused_unreachable),
            ("commands_failed", commands_failed),
            ("timeouts", timeouts),
            ("gateway_down", gateway_down),
            ("gateway_up", gateway_up),
            ("unexpected_source", unexpected_source),
            ("wrong_address", wrong_address),
            ("response_lines_skipped", response_lines_skipped),
            ("dialect_changes", dialect_changes),
            ("dial_strings", dial_strings),
            ("address_changes", address_changes),
            ("trunk_out_of_place", trunk_out_of_place),
        ]
        .into_iter()
        .chain(transaction.prefixed_counters())
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    /// The names and order `/metrics` has always rendered (`offhook_mgcp_total{kind=…}`).
    const NAMES: [&str; 62] = [
        "datagrams",
        "oversized",
        "unknown_peer",
        "malformed_answered",
        "version_answered",
        "malformed_dropped",
        "unknown_endpoint",
        "unsupported_commands",
        "unmatched_responses",
        "notifications",
        "keepalives",
        "stale_notifications",
        "unrecognised_events",
        "redundant_events",
        "rqnts_sent",
        "arm_failures",
        "lines_unarmed",
        "lines_added",
        "lines_removed",
        "audits_sent",
        "probes_sent",
        "restarts",
        "restart_claims_refuted",
        "restart_claims_confirmed",
        "connections_lost",
        "unknown_line_commands",
        "queue_full",
        "refused_unreachable",
        "commands_failed",
        "timeouts",
        "gateway_down",
        "gateway_up",
        "unexpected_source",
        "wrong_address",
        "response_lines_skipped",
        "dialect_changes",
        "dial_strings",
        "address_changes",
        "trunk_out_of_place",
        "tx_commands_sent",
        "tx_retransmissions",
        "tx_timeouts",
        "tx_send_refused",
        "tx_final_responses",
        "tx_provisional_responses",
        "tx_unmatched_responses",
        "tx_responses_from_wrong_peer",
        "tx_rtt_samples",
        "tx_rtt_samples_skipped",
        "tx_commands_received",
        "tx_provisional_sent",
        "tx_responses_replayed",
        "tx_duplicates_after_ack",
        "tx_responses_sent",
        "tx_response_retransmissions",
        "tx_history_evictions",
        "tx_history_expired",
        "tx_history_refused",
        "tx_acks_received",
        "tx_response_acks_sent",
        "tx_acks_piggybacked",
        "tx_acks_dropped",
    ];

    #[test]
    fn counters_have_the_metrics_names_in_order() {
        let names: Vec<_> = Stats::default().counters().map(|(n, _)| n).collect();
        assert_eq!(names, NAMES);
    }

    #[test]
    fn transaction_counters_are_the_tx_names_unprefixed() {
        let s = Stats::default();
        let names: Vec<_> = s.transaction.counters().map(|(n, _)| n).collect();
        let expected: Vec<_> = NAMES.iter().filter_map(|n| n.strip_prefix("tx_")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn counters_carry_the_field_values() {
        let mut s = Stats {
            datagrams: 7,
            gateway_up: 3,
            ..Stats::default()
        };
        s.transaction.commands_sent = 11;
        s.transaction.acks_dropped = 5;
        let got: Vec<_> = s.counters().filter(|(_, v)| *v != 0).collect();
        assert_eq!(
            got,
            [
                ("datagrams", 7),
                ("gateway_up", 3),
                ("tx_commands_sent", 11),
                ("tx_acks_dropped", 5)
            ]
        );
        assert_eq!(s.transaction.counters().next(), Some(("commands_sent", 11)));
    }
}
