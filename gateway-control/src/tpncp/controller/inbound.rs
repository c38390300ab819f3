//! Events from a board: answers to commands (acknowledgements, errors, status) and what the
//! lines report (hook, digits), translated to the model.

use std::time::Instant;

use tracing::{debug, warn};

use super::jobs::verb;
use super::{Host, Timer, code};
use crate::digitmap::MatchState;
use crate::model::{Digit, Event};
use crate::tpncp::wire::{self, Channel, DigitEntry, Seq};

/// The most characters of a board's error text carried in a failure reason.
const MAX_ERROR_TEXT: usize = 80;

/// The key of `acEV_DIGIT`'s code: 0–9, 10 `*`, 11 `#`, 12–15 `A`–`D`.
pub(super) fn digit_of(code: i32) -> Option<Digit> {
    let c = match code {
        0..=9 => char::from(b'0' + u8::try_from(code).ok()?),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + u8::try_from(code - 12).ok()?),
        _ => return None,
    };
    Digit::new(c)
}

impl Host {
    /// One decoded event of a board in session.
    pub(super) fn on_event(
        &mut self,
        now: Instant,
        g: usize,
        channel: Channel,
        event: wire::Event,
    ) {
        match event {
            // A trunk's line events, and FXO events anywhere: see `trunk`.
            wire::Event::RingStart
            | wire::Event::RingEnd
            | wire::Event::OffHook
            | wire::Event::OnHook
            | wire::Event::FlashHook
            | wire::Event::Digits(_)
                if self.is_trunk(g, channel) =>
            {
                self.trunk_event(now, g, channel, event);
            }
            wire::Event::DialEnded
            | wire::Event::CallerId(_)
            | wire::Event::PolarityReversal { .. }
            | wire::Event::CurrentDisconnect => self.trunk_event(now, g, channel, event),
            wire::Event::FxoStatus { seized } => self.on_status(now, g, channel, seized, false),
            wire::Event::CommandAck { seq, command_id } => self.on_ack(now, g, seq, command_id),
            wire::Event::Error { code, text } => self.on_error(now, g, channel, code, &text),
            wire::Event::FxsStatus {
                off_hook,
                message_waiting,
                ..
            } => self.on_status(now, g, channel, off_hook, message_waiting),
            wire::Event::KeepAlive { .. } => self.stats.keepalives_received += 1,
            wire::Event::RingStart | wire::Event::RingEnd => self.stats.ring_events += 1,
            wire::Event::OffHook | wire::Event::OnHook | wire::Event::FlashHook
                if !self.watched(g, channel) => {}
            wire::Event::OffHook => self.hook(g, channel, true),
            wire::Event::OnHook => self.hook(g, channel, false),
            wire::Event::FlashHook => {
                self.stats.hook_events += 1;
                if let Some(line) = self.gateways[g].lines.get(&channel) {
                    self.events.push_back(Event::HookFlash {
                        line: line.id.clone(),
                    });
                }
            }
            wire::Event::Digits(entries) => {
                if self.watched(g, channel) {
                    self.digits(now, g, channel, &entries);
                }
            }
        }
    }

    /// Whether a channel is a watched line; counts the drop if not.
    fn watched(&mut self, g: usize, channel: Channel) -> bool {
        let ok = self.gateways[g]
            .lines
            .get(&channel)
            .is_some_and(|l| l.watched);
        if !ok {
            self.stats.unknown_channel += 1;
            debug!(gateway = %self.gateways[g].id, channel = channel.0, "event for no watched line dropped");
        }
        ok
    }

    /// `acEV_COMMAND_ACK`: the command in flight with that sequence number and id was carried out.
    fn on_ack(&mut self, now: Instant, g: usize, seq: Seq, command_id: u32) {
        let gw = &mut self.gateways[g];
        let found = gw
            .in_flight
            .iter_mut()
            .find(|(_, f)| f.seq == seq && wire::command_id(&f.command) == command_id);
        let Some((&channel, f)) = found else {
            self.stats.acks_unmatched += 1;
            debug!(gateway = %self.gateways[g].id, seq = seq.0, command_id, "acknowledgement of nothing in flight");
            return;
        };
        self.stats.acks += 1;
        if f.acked {
            // A retransmission acknowledged again, while the status is awaited.
            return;
        }
        f.acked = true;
        let waits = matches!(f.command, wire::Command::QueryStatus { .. }) && f.status.is_none();
        if let Some(line) = gw.lines.get_mut(&channel) {
            line.acked(&f.command);
        }
        self.answered(now, g);
        if !waits {
            self.advance(now, g, channel);
        }
    }

    /// `acEV_ERROR`: the channel's command in flight failed.
    fn on_error(&mut self, now: Instant, g: usize, channel: Channel, code: i32, text: &str) {
        let Some(f) = self.gateways[g].in_flight.remove(&channel) else {
            self.stats.errors_unmatched += 1;
            debug!(gateway = %self.gateways[g].id, channel = channel.0, code, "error about nothing in flight");
            return;
        };
        self.stats.errors_received += 1;
        self.timers.stop(Timer::Ack(g, channel));
        let text: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_ERROR_TEXT)
            .collect();
        warn!(gateway = %self.gateways[g].id, channel = channel.0, code, text, "the board refused {}", verb(&f.command));
        let reason = format!("the board refused {}: {text} ({code})", verb(&f.command));
        let code = u16::try_from(code)
            .ok()
            .filter(|c| *c != 0)
            .unwrap_or(code::REFUSED);
        self.answered(now, g);
        self.job_failed(g, channel, f.job, code, &reason);
        self.next_job(now, g, channel);
    }

    /// `acEV_ANALOG_IF_FXS_STATUS`: the answer to the channel's query, or news.
    fn on_status(&mut self, now: Instant, g: usize, channel: Channel, off_hook: bool, lamp: bool) {
        if let Some(f) = self.gateways[g].in_flight.get_mut(&channel)
            && matches!(f.command, wire::Command::QueryStatus { .. })
        {
            f.status = Some((off_hook, lamp));
            let acked = f.acked;
            self.answered(now, g);
            if acked {
                self.advance(now, g, channel);
            }
            return;
        }
        self.stats.status_unsolicited += 1;
        if self.watched(g, channel)
            && let Some(line) = self.gateways[g].lines.get_mut(&channel)
        {
            line.lamp = lamp;
            self.hook(g, channel, off_hook);
        }
    }

    /// The hook switch of a line is now `off_hook`: reported if that is news.
    pub(super) fn hook(&mut self, g: usize, channel: Channel, off_hook: bool) {
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        // A trunk's hook is the host's to set (`trunk`): a board's view of it reports nothing.
        if line.trunk.is_some() {
            return;
        }
        if line.off_hook == off_hook {
            self.stats.redundant_hook += 1;
            return;
        }
        line.off_hook = off_hook;
        self.stats.hook_events += 1;
        let id = line.id.clone();
        if off_hook {
            self.events.push_back(Event::OffHook { line: id });
        } else {
            // Hanging up ends a collection.
            line.collect = None;
            self.timers.stop(Timer::Digits(g, channel));
            self.events.push_back(Event::OnHook { line: id });
        }
    }

    /// `acEV_DIGIT`'s entries: each key reported, or collected against the line's map.
    pub(super) fn digits(
        &mut self,
        now: Instant,
        g: usize,
        channel: Channel,
        entries: &[DigitEntry],
    ) {
        let (short, long) = (self.config.interdigit_short, self.config.interdigit_long);
        for entry in entries {
            let Some(digit) = digit_of(entry.digit) else {
                self.stats.bad_digits += 1;
                debug!(gateway = %self.gateways[g].id, channel = channel.0, code = entry.digit, "digit code of no key dropped");
                continue;
            };
            self.stats.digits += 1;
            let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
                return;
            };
            let Some(collect) = line.collect.as_mut() else {
                self.events.push_back(Event::Digit {
                    line: line.id.clone(),
                    digit,
                });
                continue;
            };
            // The map completes a string of `digitmap::MAX_DIGITS` keys: that bounds it.
            collect.dialled.push(digit.as_char());
            match collect.map.check(&collect.dialled, false) {
                MatchState::Partial { short: s } => {
                    self.timers.set(
                        Timer::Digits(g, channel),
                        now + if s { short } else { long },
                    );
                }
                _ => self.report_dialled(g, channel),
            }
        }
    }

    /// The interdigit timer ran out: what was dialled is reported.
    pub(super) fn digits_timer(&mut self, g: usize, channel: Channel) {
        let Some(collect) = self.gateways[g]
            .lines
            .get(&channel)
            .and_then(|l| l.collect.as_ref())
        else {
            return;
        };
        let state = collect.map.check(&collect.dialled, true);
        debug!(gateway = %self.gateways[g].id, channel = channel.0, ?state, "interdigit timer expired");
        if !collect.dialled.is_empty() {
            self.report_dialled(g, channel);
        }
    }

    /// Ends a line's collection with [`Event::Dialled`].
    fn report_dialled(&mut self, g: usize, channel: Channel) {
        self.timers.stop(Timer::Digits(g, channel));
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        let Some(collect) = line.collect.take() else {
            return;
        };
        self.stats.dialled += 1;
        self.events.push_back(Event::Dialled {
            line: line.id.clone(),
            digits: collect.dialled.chars().filter_map(Digit::new).collect(),
        });
    }
}
