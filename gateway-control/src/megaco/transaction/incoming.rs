//! Requests we receive (H.248.1 Annex D.1.1, D.1.2.2, D.1.4): at-most-once execution,
//! Pendings for requests still executing, cached replies replayed until acknowledged and
//! remembered for LONG-TIMER (bounded per peer and in total), and retransmission of
//! `ImmAckRequired` replies until acknowledged.

use super::*;

/// What is remembered of an incoming transaction.
pub(super) enum Cached {
    /// Received, not replied yet.
    Executing {
        /// Pendings asked for so far.
        pendings: u32,
        /// When the next one is due, if any.
        next_pending: Option<Instant>,
    },
    /// Replied; the reply is kept for replay until acknowledged.
    Replied {
        bytes: Vec<u8>,
        /// Set for an `ImmAckRequired` reply over UDP: retransmitted until acknowledged.
        retransmit: Option<Retransmit>,
    },
    /// Replied and acknowledged: duplicates are dropped.
    Acknowledged,
}

/// The retransmission state of an `ImmAckRequired` reply.
#[derive(Clone, Copy)]
pub(super) struct Retransmit {
    at: Instant,
    aad: Duration,
    n: u32,
}

/// An incoming transaction remembered until LONG-TIMER runs out.
pub(super) struct Remembered {
    pub(super) seq: u64,
    pub(super) state: Cached,
    pub(super) expires: Instant,
}

impl Transactions {
    /// The TransactionRequest `id` arrived from `peer` (`reliable`: over TCP). Says whether to
    /// execute it; a duplicate has been dealt with.
    pub fn handle_request(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        reliable: bool,
        id: TransactionId,
    ) -> RequestOutcome {
        let limit = self.config.pending_limit;
        if let Some(r) = self.remembered.get_mut(&(peer, id)) {
            match &mut r.state {
                Cached::Executing { pendings, .. } => {
                    self.stats.duplicates_executing += 1;
                    debug!(%peer, transaction = %id, "duplicate of an executing request");
                    if *pendings < limit {
                        *pendings += 1;
                        self.stats.pendings_due += 1;
                        self.events.push_back(Event::PendingDue {
                            peer,
                            transaction: id,
                        });
                    }
                }
                Cached::Replied { bytes, .. } => {
                    self.stats.replies_replayed += 1;
                    debug!(%peer, transaction = %id, "duplicate request: reply replayed");
                    self.transmits.push_back(Transmit {
                        destination: peer,
                        contents: bytes.clone(),
                    });
                }
                Cached::Acknowledged => {
                    self.stats.duplicates_dropped += 1;
                    debug!(%peer, transaction = %id, "duplicate of an acknowledged request dropped");
                }
            }
            return RequestOutcome::Duplicate;
        }
        self.stats.requests_received += 1;
        trace!(%peer, transaction = %id, reliable, "request");
        let next_pending = (limit > 0).then(|| now + self.config.provisional_timer);
        let expires = now + self.config.long_timer;
        if self.remember(peer, id, next_pending, expires)
            && let Some(at) = next_pending
        {
            self.timers.insert((at, Timer::Provisional(peer, id)));
        }
        RequestOutcome::New
    }

    /// Sends the encoded reply to request `id` from `peer` (one [`handle_request`] called
    /// `New`) and caches it for duplicates (LONG-TIMER). `imm_ack_required`: the reply asks
    /// for a TransactionResponseAck; over UDP it is retransmitted until acknowledged. Also
    /// used for replies to requests the layer never saw (an error reply to an unparseable
    /// one): those are sent without caching.
    ///
    /// [`handle_request`]: Self::handle_request
    pub fn send_reply(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        reliable: bool,
        id: TransactionId,
        bytes: Vec<u8>,
        imm_ack_required: bool,
    ) {
        self.stats.replies_sent += 1;
        trace!(%peer, transaction = %id, imm_ack_required, len = bytes.len(), "reply sent");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        let first = self.retransmit_timeout(peer);
        let long_timer = self.config.long_timer;
        let Some(r) = self.remembered.get_mut(&(peer, id)) else {
            self.stats.replies_uncached += 1;
            return;
        };
        let Cached::Executing { next_pending, .. } = r.state else {
            // Replied twice: keep the first reply, which duplicates already got.
            self.stats.replies_uncached += 1;
            return;
        };
        if let Some(at) = next_pending {
            self.timers.remove(&(at, Timer::Provisional(peer, id)));
        }
        let retransmit = (imm_ack_required && !reliable).then_some(Retransmit {
            at: now + first,
            aad: first,
            n: 0,
        });
        let old = r.expires;
        r.expires = now + long_timer;
        let new = r.expires;
        r.state = Cached::Replied { bytes, retransmit };
        self.timers.remove(&(old, Timer::History(peer, id)));
        self.timers.insert((new, Timer::History(peer, id)));
        if let Some(t) = retransmit {
            self.timers.insert((t.at, Timer::Reply(peer, id)));
        }
    }

    /// Whether a Pending was asked for request `id` from `peer`, still executing: its reply
    /// should then carry `ImmAckRequired` (D.1.4: a reply after Pendings is confirmed at once),
    /// so that it is retransmitted until acknowledged.
    pub fn pending_sent(&self, peer: SocketAddr, id: TransactionId) -> bool {
        matches!(
            self.remembered.get(&(peer, id)),
            Some(Remembered {
                state: Cached::Executing { pendings: 1.., .. },
                ..
            })
        )
    }

    /// Replies being retransmitted until acknowledged (`ImmAckRequired` over UDP), all peers.
    pub fn awaiting_ack(&self) -> usize {
        self.remembered
            .values()
            .filter(|r| {
                matches!(
                    r.state,
                    Cached::Replied {
                        retransmit: Some(_),
                        ..
                    }
                )
            })
            .count()
    }

    /// A TransactionResponseAck from `peer` (stand-alone or riding on another message):
    /// releases the cached replies it names.
    pub fn handle_response_ack(&mut self, now: Instant, peer: SocketAddr, ranges: &[AckRange]) {
        let _ = now;
        for r in ranges {
            if !self.release_range(peer, *r) {
                self.stats.acks_unmatched += 1;
                debug!(%peer, first = %r.first, last = %r.last, "acknowledgement of nothing cached");
            }
        }
    }

    /// Remembers a new request as executing; returns whether it could.
    fn remember(
        &mut self,
        peer: SocketAddr,
        id: TransactionId,
        next_pending: Option<Instant>,
        expires: Instant,
    ) -> bool {
        let per_peer = self.config.max_history_per_peer;
        // Make room: per peer, then in total.
        let oldest_of_peer = match self.peer_mut(peer) {
            Some(p) if p.history.len() >= per_peer => p.history.values().next().copied(),
            Some(_) => None,
            None => {
                self.stats.history_refused += 1;
                debug!(%peer, transaction = %id, "too many peers: request not remembered");
                return false;
            }
        };
        if let Some(old) = oldest_of_peer {
            self.forget(peer, old);
            self.stats.history_evictions += 1;
        }
        if self.remembered.len() >= self.config.max_history
            && let Some((_, &(p, old))) = self.history_order.iter().next()
        {
            self.forget(p, old);
            self.stats.history_evictions += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.history.insert(seq, id);
        }
        self.history_order.insert(seq, (peer, id));
        self.remembered.insert(
            (peer, id),
            Remembered {
                seq,
                state: Cached::Executing {
                    pendings: 0,
                    next_pending,
                },
                expires,
            },
        );
        self.timers.insert((expires, Timer::History(peer, id)));
        true
    }

    pub(super) fn forget(&mut self, peer: SocketAddr, id: TransactionId) {
        let Some(r) = self.remembered.remove(&(peer, id)) else {
            return;
        };
        self.history_order.remove(&r.seq);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.history.remove(&r.seq);
        }
        self.timers.remove(&(r.expires, Timer::History(peer, id)));
        match r.state {
            Cached::Executing {
                next_pending: Some(at),
                ..
            } => {
                self.timers.remove(&(at, Timer::Provisional(peer, id)));
            }
            Cached::Replied {
                retransmit: Some(t),
                ..
            } => {
                self.timers.remove(&(t.at, Timer::Reply(peer, id)));
            }
            _ => {}
        }
    }

    /// Releases the cached replies in `r`; returns whether any was.
    fn release_range(&mut self, peer: SocketAddr, r: AckRange) -> bool {
        if r.first.0 > r.last.0 {
            return false;
        }
        // The work is bounded by what is remembered for the peer, not by the range's width.
        let ids: Vec<TransactionId> = match self.peers.get(&peer) {
            Some(p) if u64::from(r.last.0 - r.first.0) >= p.history.len() as u64 => p
                .history
                .values()
                .filter(|id| (r.first.0..=r.last.0).contains(&id.0))
                .copied()
                .collect(),
            Some(_) => (r.first.0..=r.last.0).map(TransactionId).collect(),
            None => return false,
        };
        let mut any = false;
        for id in ids {
            any |= self.release(peer, id);
        }
        any
    }

    /// Releases the cached reply of `id`; returns whether one was cached.
    fn release(&mut self, peer: SocketAddr, id: TransactionId) -> bool {
        let Some(r) = self.remembered.get_mut(&(peer, id)) else {
            return false;
        };
        let Cached::Replied { retransmit, .. } = &r.state else {
            return false;
        };
        if let Some(t) = retransmit {
            self.timers.remove(&(t.at, Timer::Reply(peer, id)));
        }
        r.state = Cached::Acknowledged;
        self.stats.acks_received += 1;
        trace!(%peer, transaction = %id, "cached reply released");
        true
    }

    pub(super) fn provisional_timer(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) {
        let limit = self.config.pending_limit;
        let interval = self.config.provisional_timer;
        let Some(Remembered {
            state:
                Cached::Executing {
                    pendings,
                    next_pending,
                },
            ..
        }) = self.remembered.get_mut(&(peer, id))
        else {
            return;
        };
        *next_pending = None;
        if *pendings >= limit {
            return;
        }
        *pendings += 1;
        self.stats.pendings_due += 1;
        debug!(%peer, transaction = %id, n = *pendings, "still executing: pending due");
        self.events.push_back(Event::PendingDue {
            peer,
            transaction: id,
        });
        if *pendings < limit {
            let at = now + interval;
            *next_pending = Some(at);
            self.timers.insert((at, Timer::Provisional(peer, id)));
        }
    }

    pub(super) fn reply_timer(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let Some(Remembered {
            state:
                Cached::Replied {
                    retransmit: Some(t),
                    ..
                },
            ..
        }) = self.remembered.get(&(peer, id))
        else {
            return;
        };
        let t = *t;
        let next = if t.n >= max {
            self.stats.replies_unacknowledged += 1;
            debug!(%peer, transaction = %id, "reply never acknowledged");
            None
        } else {
            let (interval, aad) = self.back_off(peer, t.aad);
            Some(Retransmit {
                at: now + interval,
                aad,
                n: t.n + 1,
            })
        };
        let Some(Remembered {
            state: Cached::Replied { bytes, retransmit },
            ..
        }) = self.remembered.get_mut(&(peer, id))
        else {
            return;
        };
        *retransmit = next;
        if let Some(t) = next {
            self.stats.reply_retransmissions += 1;
            trace!(%peer, transaction = %id, n = t.n, "reply retransmitted");
            self.transmits.push_back(Transmit {
                destination: peer,
                contents: bytes.clone(),
            });
            self.timers.insert((t.at, Timer::Reply(peer, id)));
        }
    }
}
