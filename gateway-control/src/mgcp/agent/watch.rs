//! Lines added and removed while the call agent runs ([`Command::AddLine`],
//! [`Command::RemoveLine`]; the decisions are in [`CallAgent`]'s documentation).
//!
//! [`Command::AddLine`]: crate::model::Command::AddLine
//! [`Command::RemoveLine`]: crate::model::Command::RemoveLine

use std::time::Instant;

use tracing::{debug, info};

use super::outgoing::AuditWhy;
use super::{CallAgent, MAX_LINES_PER_GATEWAY, Service, Timer, valid_line_name};
use crate::mgcp::endpoint::{Hook, Line};
use crate::mgcp::wire::ReturnCode;
use crate::model::{DownReason, LineId};

impl CallAgent {
    /// Starts watching `line`: audited and armed now unless its gateway is down (then with the
    /// gateway's other lines when it is back); a line already watched is audited again unless
    /// an audit of it is on its way.
    pub(super) fn add_line(&mut self, now: Instant, line: LineId) {
        if let Some(&idx) = self.by_line.get(&line) {
            // Already watched: the caller learns its hook state again, from the audit on its
            // way if there is one (at start, every line's).
            let g = self.lines[idx].gateway;
            if self.can_audit(g) && !self.lines[idx].resyncing {
                self.enqueue(
                    g,
                    super::Job::Audit {
                        line: idx,
                        why: AuditWhy::Model,
                    },
                );
            }
            return self.after_input(now, g);
        }
        let Some(&g) = self.by_gateway.get(&line.gateway) else {
            self.stats.unknown_line_commands += 1;
            debug!(%line, "line added on a gateway this agent does not drive");
            return self.fail(
                line,
                None,
                ReturnCode::UNKNOWN_ENDPOINT.0,
                "unknown gateway",
            );
        };
        if !valid_line_name(&line.endpoint) {
            self.stats.unknown_line_commands += 1;
            return self.fail(
                line,
                None,
                ReturnCode::UNKNOWN_ENDPOINT.0,
                "not a line name: 1-255 characters, no spaces, @, * or $",
            );
        }
        let key = line.endpoint.to_ascii_lowercase().into_boxed_str();
        if self.gateways[g].lines.contains_key(&key) {
            // The same endpoint under another spelling: gateways match names without case.
            return self.fail(line, None, 0, "the gateway already has this line");
        }
        let idx = match self.lines.iter().position(|l| l.retired && l.id == line) {
            Some(idx) => {
                let l = &mut self.lines[idx];
                l.retired = false;
                l.hook = Hook::Unknown;
                l.arm_failures = 0;
                l.hook_hint = None;
                idx
            }
            None => {
                if self.lines.iter().filter(|l| l.gateway == g).count() >= MAX_LINES_PER_GATEWAY {
                    return self.fail(line, None, 0, "the gateway has too many lines");
                }
                self.lines.push(Line::new(line.clone(), g));
                self.lines.len() - 1
            }
        };
        self.stats.lines_added += 1;
        info!(%line, "line added");
        self.by_line.insert(line, idx);
        let gw = &mut self.gateways[g];
        gw.lines.insert(key, idx);
        gw.order.push(idx);
        if self.can_audit(g) {
            self.request_resync(idx, AuditWhy::Sync);
        }
        self.after_input(now, g);
    }

    /// Stops watching `line`: one last request asks the gateway for no events and no signals.
    pub(super) fn remove_line(&mut self, now: Instant, line: &LineId) {
        let Some(idx) = self.by_line.remove(line) else {
            self.stats.unknown_line_commands += 1;
            debug!(%line, "removal of a line not watched");
            return;
        };
        let g = self.lines[idx].gateway;
        let gw = &mut self.gateways[g];
        gw.lines.retain(|_, &mut i| i != idx);
        gw.order.retain(|&i| i != idx);
        let l = &mut self.lines[idx];
        l.retired = true;
        l.signal = None;
        l.arm_failures = 0;
        l.hook_hint = None;
        if l.lamp {
            l.lamp = false;
            l.lamp_dirty = true;
        }
        self.timers.retain(|(_, t)| *t != Timer::Rearm(idx));
        self.stats.lines_removed += 1;
        info!(%line, "line removed");
        self.request_arm(idx);
        // A restart claim's check no longer waits for it.
        self.unchecked_answered(g, idx);
        self.after_input(now, g);
    }

    /// Whether a line of `g` is audited now, rather than with the others when `g` is back.
    fn can_audit(&self, g: usize) -> bool {
        !matches!(
            self.gateways[g].service,
            Service::Announced(DownReason::Forced) | Service::Unreachable { .. }
        )
    }

    fn after_input(&mut self, now: Instant, g: usize) {
        self.pump(now, g);
        self.flush(true);
    }
}
