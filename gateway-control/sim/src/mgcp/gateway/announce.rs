//! What the simulated gateway says by itself: `RSIP` at start-up and after a lost call agent,
//! `NTFY` for what its lines observed, and the keep-alives of the `cisco` profile.

use std::time::Instant;

use tracing::{trace, warn};

use super::*;

impl Gateway {
    /// Sends `RSIP`: `*@domain` with `RM: restart` (`line` `None`), or `aaln/N@domain` with
    /// `RM: disconnected` to the line's notified entity.
    pub(super) fn send_rsip(&mut self, now: Instant, line: Option<u16>) {
        let (to, local, method) = match line {
            None => (
                self.config.call_agent,
                "*".to_owned(),
                RestartMethod::Restart,
            ),
            Some(n) => {
                let l = &self.lines[usize::from(n - 1)];
                (
                    l.notified.unwrap_or(self.config.call_agent),
                    l.name.clone(),
                    RestartMethod::Disconnected,
                )
            }
        };
        let t = self.txn.allocate_id();
        let acks = self.txn.take_response_acks(to);
        let mut params = Vec::new();
        if !acks.is_empty() {
            params.push(Param::ResponseAck(acks));
        }
        params.push(Param::RestartMethod(method));
        let cmd = Command {
            verb: Verb::Rsip,
            transaction: t,
            endpoint: EndpointName {
                local: &local,
                domain: &self.config.domain,
            },
            version: self.config.profile.version(),
            params,
            sdp: None,
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        match self.txn.send_command(now, to, t, out) {
            Ok(()) => {
                self.sent.insert(t, Sent::Restart { line });
                self.sent_something(now);
            }
            Err(e) => {
                warn!(error = %e, "restart not sent");
                if line.is_none() {
                    self.restart_at = Some(now + self.config.restart_retry);
                }
            }
        }
    }

    pub(super) fn send_notify(&mut self, now: Instant, n: Notification) {
        let to = n.to.unwrap_or(self.config.call_agent);
        let li = usize::from(n.line - 1);
        let t = self.txn.allocate_id();
        let acks = self.txn.take_response_acks(to);
        let observed = n.observed.join(",");
        let notified = self.lines[li].notified_text.clone();
        let mut params = Vec::new();
        if !acks.is_empty() {
            params.push(Param::ResponseAck(acks));
        }
        if let Some(ne) = &notified {
            params.push(Param::NotifiedEntity(ne));
        }
        params.push(Param::RequestIdentifier(&n.request));
        params.push(Param::Other("O", &observed));
        let cmd = Command {
            verb: Verb::Ntfy,
            transaction: t,
            endpoint: EndpointName {
                local: &self.lines[li].name,
                domain: &self.config.domain,
            },
            version: self.config.profile.version(),
            params,
            sdp: None,
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        match self.txn.send_command(now, to, t, out) {
            Ok(()) => {
                self.stats.notifications += 1;
                self.sent.insert(t, Sent::Notify { line: n.line });
                self.sent_something(now);
            }
            Err(e) => {
                warn!(line = n.line, error = %e, "notification not sent");
                self.outputs.push_back(Output::Error {
                    line: Some(n.line),
                    message: format!("NTFY not sent: {e}"),
                });
            }
        }
    }

    /// Something went to the call agent: the next keep-alive is due one interval from now
    /// (once the restart is answered, while keep-alives are on).
    pub(super) fn sent_something(&mut self, now: Instant) {
        if let Some(every) = self.config.keepalive_interval()
            && self.restarted
        {
            self.keepalive_at = Some(now + every);
        }
    }

    /// Sends the keep-alive Cisco IOS gateways send their call agent when nothing else was
    /// sent for a while: `NTFY` for the whole gateway with an empty `O:` and no `X:` (see
    /// [`Profile::Cisco`]). One at a time: while one awaits its answer, the next waits too.
    pub(super) fn send_keepalive(&mut self, now: Instant) {
        self.keepalive_at = None;
        if self.keepalive_pending {
            self.sent_something(now);
            return;
        }
        let to = self.config.call_agent;
        let t = self.txn.allocate_id();
        let cmd = Command {
            verb: Verb::Ntfy,
            transaction: t,
            endpoint: EndpointName {
                local: "*",
                domain: &self.config.domain,
            },
            version: self.config.profile.version(),
            params: vec![Param::ObservedEvents(Vec::new())],
            sdp: None,
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        match self.txn.send_command(now, to, t, out) {
            Ok(()) => {
                self.stats.keepalives += 1;
                self.keepalive_pending = true;
                self.sent.insert(t, Sent::KeepAlive);
                trace!(transaction = t.0, "keep-alive sent");
            }
            Err(e) => warn!(error = %e, "keep-alive not sent"),
        }
        self.sent_something(now);
    }
}
