//! Outgoing commands (RFC 3435 §4.3): sending, retransmission on the estimated
//! acknowledgement delay with back-off, matching responses, and the acknowledgements owed for
//! them (`K:` ranges or stand-alone `000`).

use super::*;

/// A command in flight.
pub(super) struct Outgoing {
    pub(super) peer: SocketAddr,
    pub(super) bytes: Vec<u8>,
    pub(super) first_sent: Instant,
    pub(super) retransmissions: u32,
    pub(super) interval: Duration,
    pub(super) deadline: Instant,
    pub(super) provisional: bool,
}

impl Transactions {
    /// Acknowledgements to put in the `K:` line of a command about to be sent to `peer`, as
    /// ranges (at most 64); they are then considered sent. Call it just before
    /// encoding each new command.
    pub fn take_response_acks(&mut self, peer: SocketAddr) -> Vec<AckRange> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut ranges: Vec<AckRange> = Vec::new();
        let mut taken = Vec::new();
        // Ids ascend, so a run of consecutive ids never wraps past 999,999,999.
        for &id in &p.acks {
            let full = ranges.len() == MAX_ACK_RANGES;
            match ranges.last_mut() {
                Some(r) if r.last.0 + 1 == id.0 => r.last = id,
                _ if full => break,
                _ => ranges.push(AckRange {
                    first: id,
                    last: id,
                }),
            }
            taken.push(id);
        }
        for id in &taken {
            p.acks.remove(id);
        }
        if p.acks.is_empty()
            && let Some(deadline) = p.ack_deadline.take()
        {
            self.timers.remove(&(deadline, Timer::Ack(peer)));
        }
        self.stats.acks_piggybacked += taken.len() as u64;
        ranges
    }

    /// Sends an encoded command and retransmits it until it is answered or given up.
    pub fn send_command(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        bytes: Vec<u8>,
    ) -> Result<(), SendError> {
        let refused = if bytes.len() > MAX_DATAGRAM {
            Some(SendError::TooLarge(bytes.len()))
        } else if self.outgoing.contains_key(&transaction) {
            Some(SendError::InFlight(transaction))
        } else if self.outgoing.len() >= self.config.max_in_flight {
            Some(SendError::TooManyInFlight)
        } else {
            None
        };
        if let Some(e) = refused {
            self.stats.send_refused += 1;
            debug!(%peer, %transaction, error = %e, "command refused");
            return Err(e);
        }
        let interval = match self.peer_mut(peer) {
            Some(_) => self.retransmit_timeout(peer),
            None => self.config.initial_rtt,
        };
        let deadline = now + interval;
        trace!(%peer, %transaction, len = bytes.len(), "command sent");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        *self.in_flight.entry(peer).or_insert(0) += 1;
        self.outgoing.insert(
            transaction,
            Outgoing {
                peer,
                bytes,
                first_sent: now,
                retransmissions: 0,
                interval,
                deadline,
                provisional: false,
            },
        );
        self.timers.insert((deadline, Timer::Command(transaction)));
        self.stats.commands_sent += 1;
        Ok(())
    }

    pub(super) fn take_outgoing(&mut self, id: TransactionId) -> Option<Outgoing> {
        let o = self.outgoing.remove(&id)?;
        if let Some(n) = self.in_flight.get_mut(&o.peer) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&o.peer);
            }
        }
        Some(o)
    }

    /// Stops retransmitting `transaction` without reporting anything (the caller no longer
    /// cares). Returns whether it was in flight.
    pub fn cancel(&mut self, transaction: TransactionId) -> bool {
        match self.take_outgoing(transaction) {
            Some(o) => {
                self.timers
                    .remove(&(o.deadline, Timer::Command(transaction)));
                true
            }
            None => false,
        }
    }

    /// A response arrived from `peer`. `ack_requested` is whether it carried an empty `K:`.
    pub fn handle_response(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        code: ReturnCode,
        ack_requested: bool,
    ) -> ResponseOutcome {
        if code == ReturnCode::ACK {
            if !self.release(peer, transaction) {
                self.stats.acks_unmatched += 1;
                debug!(%peer, %transaction, "response acknowledgement for nothing cached");
            }
            return ResponseOutcome::Acknowledged;
        }
        let matched = match self.outgoing.get(&transaction) {
            Some(o) if o.peer == peer => true,
            Some(o) => {
                self.stats.responses_from_wrong_peer += 1;
                warn!(%peer, expected = %o.peer, %transaction, "response from the wrong address");
                return ResponseOutcome::Unmatched;
            }
            None => false,
        };
        if !matched {
            self.stats.unmatched_responses += 1;
            debug!(%peer, %transaction, code = code.0, "unmatched response dropped");
            if !code.is_provisional() && ack_requested {
                self.queue_ack(now, peer, transaction);
            }
            return ResponseOutcome::Unmatched;
        }
        if code.is_provisional() {
            let timeout = self.config.provisional_timeout;
            let Some(o) = self.outgoing.get_mut(&transaction) else {
                return ResponseOutcome::Unmatched;
            };
            self.stats.provisional_responses += 1;
            if !o.provisional {
                o.provisional = true;
                let old = o.deadline;
                o.deadline = now + timeout;
                let new = o.deadline;
                self.timers.remove(&(old, Timer::Command(transaction)));
                self.timers.insert((new, Timer::Command(transaction)));
                trace!(%peer, %transaction, code = code.0, "provisional response");
            }
            return ResponseOutcome::Provisional;
        }
        let Some(o) = self.take_outgoing(transaction) else {
            return ResponseOutcome::Unmatched;
        };
        self.timers
            .remove(&(o.deadline, Timer::Command(transaction)));
        self.stats.final_responses += 1;
        if o.retransmissions == 0 && !o.provisional {
            let sample = now.saturating_duration_since(o.first_sent);
            if let Some(p) = self.peers.get_mut(&peer) {
                // RFC 6298-style: the first sample replaces the prior (AAD = s, ADEV = s/2),
                // later ones are smoothed with gains 1/8 and 1/4, as §4.3 suggests.
                if p.sampled {
                    let diff = sample.abs_diff(p.aad);
                    p.adev = p.adev * 3 / 4 + diff / 4;
                    p.aad = p.aad * 7 / 8 + sample / 8;
                } else {
                    p.aad = sample;
                    p.adev = sample / 2;
                    p.sampled = true;
                }
                self.stats.rtt_samples += 1;
            }
        } else {
            self.stats.rtt_samples_skipped += 1;
        }
        // Only acknowledgements RFC 3435 §3.5.6 requires go out: some gateways (osmo-mgw)
        // refuse any command carrying `K:` with 539, so acknowledging every response would cost
        // interoperability for a little cache memory on the gateway (T-HIST bounds it anyway).
        if o.provisional || ack_requested {
            self.queue_ack(now, peer, transaction);
        }
        ResponseOutcome::Final
    }

    pub(super) fn queue_ack(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) {
        let delay = self.config.ack_delay;
        let Some(p) = self.peer_mut(peer) else {
            self.stats.acks_dropped += 1;
            return;
        };
        let full = p.acks.len() >= MAX_PENDING_ACKS && !p.acks.contains(&id);
        if full {
            // Forget the lowest id (usually the oldest).
            p.acks.pop_first();
        }
        p.acks.insert(id);
        if p.ack_deadline.is_none() {
            let deadline = now + delay;
            p.ack_deadline = Some(deadline);
            self.timers.insert((deadline, Timer::Ack(peer)));
        }
        if full {
            self.stats.acks_dropped += 1;
        }
    }

    pub(super) fn command_timer(&mut self, now: Instant, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let cap = self.config.max_retransmit_interval;
        let t_max = self.config.t_max;
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        let give_up = o.provisional
            || o.retransmissions >= max
            || now.saturating_duration_since(o.first_sent) >= t_max;
        if give_up {
            let (peer, provisional) = (o.peer, o.provisional);
            self.take_outgoing(id);
            self.stats.timeouts += 1;
            debug!(%peer, transaction = %id, provisional, "command timed out");
            self.events.push_back(Event::TimedOut {
                peer,
                transaction: id,
                provisional,
            });
            return;
        }
        o.retransmissions += 1;
        o.interval = (o.interval * 2).min(cap);
        o.deadline = (now + o.interval).min(o.first_sent + t_max);
        self.stats.retransmissions += 1;
        trace!(peer = %o.peer, transaction = %id, n = o.retransmissions, "command retransmitted");
        self.transmits.push_back(Transmit {
            destination: o.peer,
            contents: o.bytes.clone(),
        });
        self.timers.insert((o.deadline, Timer::Command(id)));
    }

    pub(super) fn ack_timer(&mut self, peer: SocketAddr) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.ack_deadline = None;
        let due = std::mem::take(&mut p.acks);
        if due.is_empty() {
            return;
        }
        // Piggy-backed `000`s, one per transaction (§3.5.5), within the datagram bounds every
        // MGCP parser here accepts.
        let acks = due.iter().map(|id| Transmit {
            destination: peer,
            contents: bodiless(ReturnCode::ACK, *id),
        });
        let datagrams = piggyback(acks, MAX_MESSAGES, MAX_DATAGRAM);
        self.stats.response_acks_sent += due.len() as u64;
        trace!(%peer, n = due.len(), "response acknowledgements sent");
        self.transmits
            .extend(datagrams.into_iter().map(|(datagram, _)| datagram));
    }
}
