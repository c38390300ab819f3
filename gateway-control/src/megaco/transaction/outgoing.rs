//! Requests we send (H.248.1 Annex D.1.3, D.1.4): sending, retransmission on the estimated
//! acknowledgement delay with randomised back-off, Pendings, matching replies, and the
//! acknowledgements owed for them.

use super::*;

/// A request in flight.
pub(super) struct Outgoing {
    pub(super) peer: SocketAddr,
    /// The message, kept for retransmission (empty over TCP and once a Pending came).
    pub(super) bytes: Vec<u8>,
    pub(super) reliable: bool,
    pub(super) first_sent: Instant,
    pub(super) retransmissions: u32,
    /// This transaction's AAD, doubled at each retransmission (D.1.3).
    pub(super) aad: Duration,
    pub(super) deadline: Instant,
    /// TransactionPendings received.
    pub(super) pendings: u32,
}

impl Transactions {
    /// Acknowledgements to carry, as a `TransactionResponseAck`, in the next message to
    /// `peer` (at most [`MAX_ACK_RANGES`] ranges; any left over come with the next call or as
    /// [`Event::AcksDue`]). They are then considered sent. Call it just before encoding each
    /// message for `peer`.
    pub fn take_response_acks(&mut self, peer: SocketAddr) -> Vec<AckRange> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let (ranges, n) = ranges_of(p.acks.iter().copied());
        for _ in 0..n {
            p.acks.pop_first();
        }
        if p.acks.is_empty()
            && let Some(deadline) = p.ack_deadline.take()
        {
            self.timers.remove(&(deadline, Timer::Ack(peer)));
        }
        self.stats.acks_piggybacked += n as u64;
        ranges
    }

    /// Sends an encoded message holding the TransactionRequest `id` to `peer` and tracks it
    /// until its reply. `reliable`: over TCP, never retransmitted, only timed out.
    pub fn send_request(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        reliable: bool,
        id: TransactionId,
        bytes: Vec<u8>,
    ) -> Result<(), SendError> {
        let refused = if bytes.len() > MAX_MESSAGE {
            Some(SendError::TooLarge(bytes.len()))
        } else if self.outgoing.contains_key(&id) {
            Some(SendError::InFlight(id))
        } else if self.outgoing.len() >= self.config.max_in_flight {
            Some(SendError::TooManyInFlight)
        } else if self.in_flight(peer) >= self.config.max_in_flight_per_peer {
            Some(SendError::TooManyToPeer(peer))
        } else {
            None
        };
        if let Some(e) = refused {
            self.stats.send_refused += 1;
            debug!(%peer, transaction = %id, error = %e, "request refused");
            return Err(e);
        }
        let (aad, interval) = match self.peer_mut(peer) {
            Some(p) => (
                p.aad,
                p.aad + p.adev.saturating_mul(self.config.deviation_factor),
            ),
            None => (self.config.initial_rtt, self.config.initial_rtt),
        };
        let give_up = now + self.config.request_timeout;
        let deadline = if reliable {
            give_up
        } else {
            (now + self.bounded(interval)).min(give_up)
        };
        trace!(%peer, transaction = %id, reliable, len = bytes.len(), "request sent");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        *self.in_flight.entry(peer).or_insert(0) += 1;
        self.outgoing.insert(
            id,
            Outgoing {
                peer,
                bytes: if reliable { Vec::new() } else { bytes },
                reliable,
                first_sent: now,
                retransmissions: 0,
                aad,
                deadline,
                pendings: 0,
            },
        );
        self.timers.insert((deadline, Timer::Request(id)));
        self.stats.requests_sent += 1;
        Ok(())
    }

    fn take_outgoing(&mut self, id: TransactionId) -> Option<Outgoing> {
        let o = self.outgoing.remove(&id)?;
        self.timers.remove(&(o.deadline, Timer::Request(id)));
        if let Some(n) = self.in_flight.get_mut(&o.peer) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&o.peer);
            }
        }
        Some(o)
    }

    /// Stops tracking request `id` without reporting anything (the caller no longer cares).
    /// Returns whether it was in flight.
    pub fn cancel(&mut self, id: TransactionId) -> bool {
        let found = self.take_outgoing(id).is_some();
        if found {
            self.stats.cancelled += 1;
        }
        found
    }

    /// The TransactionReply `id` arrived from `peer`.
    pub fn handle_reply(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        id: TransactionId,
    ) -> ReplyOutcome {
        match self.outgoing.get(&id) {
            Some(o) if o.peer == peer => {}
            Some(o) => {
                self.stats.from_wrong_peer += 1;
                debug!(%peer, expected = %o.peer, transaction = %id, "reply from the wrong address");
                return ReplyOutcome::Unmatched;
            }
            None => {
                // A duplicate, most likely an `ImmAckRequired` reply retransmitted because our
                // acknowledgement was lost: acknowledge it again.
                self.stats.unmatched_replies += 1;
                debug!(%peer, transaction = %id, "unmatched reply");
                self.queue_ack(now, peer, id);
                return ReplyOutcome::Unmatched;
            }
        }
        let Some(o) = self.take_outgoing(id) else {
            return ReplyOutcome::Unmatched;
        };
        self.stats.replies += 1;
        if o.retransmissions == 0 && o.pendings == 0 {
            let sample = now.saturating_duration_since(o.first_sent);
            if let Some(p) = self.peers.get_mut(&peer) {
                // The first sample replaces the prior (AAD = s, ADEV = s/2), later ones are
                // smoothed with gains 1/8 and 1/4 (D.1.3's "exponentially smoothed").
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
        trace!(%peer, transaction = %id, "reply");
        self.queue_ack(now, peer, id);
        ReplyOutcome::Final
    }

    /// A TransactionPending for request `id` arrived from `peer`: retransmission stops and the
    /// request waits [`Config::pending_timeout`] again. Returns whether it matched a request
    /// in flight (one Pending too many fails the request, and still returns `true`).
    pub fn handle_pending(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) -> bool {
        let limit = self.config.peer_pending_limit;
        let wait = self.config.pending_timeout;
        let o = match self.outgoing.get_mut(&id) {
            Some(o) if o.peer == peer => o,
            Some(o) => {
                self.stats.from_wrong_peer += 1;
                debug!(%peer, expected = %o.peer, transaction = %id, "pending from the wrong address");
                return false;
            }
            None => {
                self.stats.unmatched_pendings += 1;
                debug!(%peer, transaction = %id, "unmatched pending");
                return false;
            }
        };
        self.stats.pendings_received += 1;
        o.pendings += 1;
        if o.pendings > limit {
            self.stats.pending_limit_exceeded += 1;
            debug!(%peer, transaction = %id, limit, "too many pendings");
            self.give_up(id);
            return true;
        }
        o.bytes = Vec::new();
        let old = o.deadline;
        o.deadline = now + wait;
        let new = o.deadline;
        self.timers.remove(&(old, Timer::Request(id)));
        self.timers.insert((new, Timer::Request(id)));
        trace!(%peer, transaction = %id, n = o.pendings, "pending");
        true
    }

    fn give_up(&mut self, id: TransactionId) {
        let Some(o) = self.take_outgoing(id) else {
            return;
        };
        self.stats.timeouts += 1;
        let pending = o.pendings > 0;
        debug!(peer = %o.peer, transaction = %id, pending, "request timed out");
        self.events.push_back(Event::TimedOut {
            peer: o.peer,
            transaction: id,
            pending,
        });
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

    /// The next retransmission interval of D.1.3: AAD doubled, a uniform draw in
    /// `[AAD/2, AAD]`, plus `N·ADEV`, bounded. Returns it and the doubled AAD.
    pub(super) fn back_off(&mut self, peer: SocketAddr, aad: Duration) -> (Duration, Duration) {
        let cap = self.config.max_retransmit_interval;
        let aad = aad.saturating_mul(2).min(cap);
        let adev = self.peers.get(&peer).map_or(Duration::ZERO, |p| p.adev);
        let nanos = u64::try_from(aad.as_nanos()).unwrap_or(u64::MAX);
        let drawn = Duration::from_nanos(self.rng.gen_range(nanos / 2..=nanos));
        let interval = drawn + adev.saturating_mul(self.config.deviation_factor);
        (self.bounded(interval), aad)
    }

    pub(super) fn request_timer(&mut self, now: Instant, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let timeout = self.config.request_timeout;
        let Some(o) = self.outgoing.get(&id) else {
            return;
        };
        let give_up_at = o.first_sent + timeout;
        if o.reliable || o.pendings > 0 || o.retransmissions >= max || now >= give_up_at {
            self.give_up(id);
            return;
        }
        let (peer, aad) = (o.peer, o.aad);
        let (interval, aad) = self.back_off(peer, aad);
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        o.retransmissions += 1;
        o.aad = aad;
        o.deadline = (now + interval).min(give_up_at);
        self.stats.retransmissions += 1;
        trace!(%peer, transaction = %id, n = o.retransmissions, "request retransmitted");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: o.bytes.clone(),
        });
        self.timers.insert((o.deadline, Timer::Request(id)));
    }

    pub(super) fn ack_timer(&mut self, peer: SocketAddr) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.ack_deadline = None;
        while !p.acks.is_empty() {
            let (ranges, n) = ranges_of(p.acks.iter().copied());
            for _ in 0..n {
                p.acks.pop_first();
            }
            self.stats.acks_due += n as u64;
            trace!(%peer, n, "acknowledgements due");
            self.events.push_back(Event::AcksDue { peer, ranges });
        }
    }
}
