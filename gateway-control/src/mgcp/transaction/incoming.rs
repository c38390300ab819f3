//! Incoming commands (RFC 3435 §3.5.6, §4.3): at-most-once execution, `100` for duplicates
//! still executing, cached responses replayed until acknowledged and remembered for T-HIST
//! (bounded per peer and in total), and retransmission of final responses sent after a
//! provisional one.

use super::*;

/// What is remembered of an incoming transaction.
pub(super) enum Cached {
    /// Received, not answered yet.
    Executing { provisional_sent: bool },
    /// Answered; the response is kept for replay until acknowledged.
    Answered {
        bytes: Vec<u8>,
        /// Set when a provisional went first: the response is retransmitted until acknowledged.
        retransmit: Option<(Instant, Duration, u32)>,
    },
    /// Answered and acknowledged: duplicates are dropped.
    Acknowledged,
}

/// An incoming transaction remembered until T-HIST runs out.
pub(super) struct Remembered {
    pub(super) seq: u64,
    pub(super) state: Cached,
    pub(super) expires: Instant,
}

impl Transactions {
    /// A command arrived from `peer`; `acks` is its `K:` list (it releases cached responses
    /// first). Says whether to execute it.
    pub fn handle_command(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        acks: &[AckRange],
    ) -> CommandOutcome {
        for r in acks {
            self.release_range(peer, *r);
        }
        if let Some(r) = self.remembered.get_mut(&(peer, transaction)) {
            match &mut r.state {
                Cached::Executing { provisional_sent } => {
                    *provisional_sent = true;
                    self.stats.provisional_sent += 1;
                    debug!(%peer, %transaction, "duplicate of an executing command: 100");
                    let bytes = bodiless(ReturnCode::EXECUTING, transaction);
                    self.transmits.push_back(Transmit {
                        destination: peer,
                        contents: bytes,
                    });
                }
                Cached::Answered { bytes, .. } => {
                    self.stats.responses_replayed += 1;
                    debug!(%peer, %transaction, "duplicate command: response replayed");
                    self.transmits.push_back(Transmit {
                        destination: peer,
                        contents: bytes.clone(),
                    });
                }
                Cached::Acknowledged => {
                    self.stats.duplicates_after_ack += 1;
                    debug!(%peer, %transaction, "duplicate of an acknowledged command dropped");
                }
            }
            return CommandOutcome::Duplicate;
        }
        self.stats.commands_received += 1;
        let expires = now + self.config.t_hist;
        self.remember(
            peer,
            transaction,
            Cached::Executing {
                provisional_sent: false,
            },
            expires,
        );
        CommandOutcome::New
    }

    /// Whether a `100` went out for `transaction` from `peer`: its final response must then
    /// carry an empty `K:` asking for acknowledgement (§3.5.6).
    pub fn provisional_sent(&self, peer: SocketAddr, transaction: TransactionId) -> bool {
        matches!(
            self.remembered.get(&(peer, transaction)),
            Some(Remembered {
                state: Cached::Executing {
                    provisional_sent: true
                },
                ..
            })
        )
    }

    /// Sends the encoded response to a command from `peer` and caches it for duplicates
    /// (T-HIST). Also used for responses to commands the layer never saw (a `510` to an
    /// unparseable one): those are sent without caching.
    pub fn send_response(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        bytes: Vec<u8>,
    ) {
        self.stats.responses_sent += 1;
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        let rto = self.retransmit_timeout(peer);
        let t_hist = self.config.t_hist;
        let Some(r) = self.remembered.get_mut(&(peer, transaction)) else {
            return;
        };
        let provisional = match r.state {
            Cached::Executing { provisional_sent } => provisional_sent,
            // Answered twice: keep the first answer, which duplicates already got.
            Cached::Answered { .. } | Cached::Acknowledged => return,
        };
        let old = r.expires;
        r.expires = now + t_hist;
        let new = r.expires;
        r.state = Cached::Answered {
            bytes,
            retransmit: provisional.then_some((now + rto, rto, 0)),
        };
        self.timers
            .remove(&(old, Timer::History(peer, transaction)));
        self.timers.insert((new, Timer::History(peer, transaction)));
        if provisional {
            self.timers
                .insert((now + rto, Timer::Response(peer, transaction)));
        }
    }

    pub(super) fn remember(
        &mut self,
        peer: SocketAddr,
        id: TransactionId,
        state: Cached,
        expires: Instant,
    ) {
        let per_peer = self.config.max_history_per_peer;
        // Make room: per peer, then in total.
        let oldest_of_peer = match self.peer_mut(peer) {
            Some(p) if p.history.len() >= per_peer => p.history.values().next().copied(),
            Some(_) => None,
            None => {
                self.stats.history_refused += 1;
                debug!(%peer, transaction = %id, "too many peers: command not remembered");
                return;
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
                state,
                expires,
            },
        );
        self.timers.insert((expires, Timer::History(peer, id)));
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
        if let Cached::Answered {
            retransmit: Some((at, _, _)),
            ..
        } = r.state
        {
            self.timers.remove(&(at, Timer::Response(peer, id)));
        }
    }

    pub(super) fn release_range(&mut self, peer: SocketAddr, r: AckRange) {
        // A range is bounded by what is remembered for the peer, not by its width.
        if r.first.0 > r.last.0 {
            return;
        }
        let ids: Vec<TransactionId> = match self.peers.get(&peer) {
            Some(p) if (r.last.0 - r.first.0) as usize >= p.history.len() => p
                .history
                .values()
                .filter(|id| (r.first.0..=r.last.0).contains(&id.0))
                .copied()
                .collect(),
            Some(_) => (r.first.0..=r.last.0).map(TransactionId).collect(),
            None => return,
        };
        for id in ids {
            self.release(peer, id);
        }
    }

    /// Releases the cached response of `id`; returns whether one was cached.
    pub(super) fn release(&mut self, peer: SocketAddr, id: TransactionId) -> bool {
        let Some(r) = self.remembered.get_mut(&(peer, id)) else {
            return false;
        };
        let Cached::Answered { retransmit, .. } = &r.state else {
            return false;
        };
        if let Some((at, _, _)) = retransmit {
            self.timers.remove(&(*at, Timer::Response(peer, id)));
        }
        r.state = Cached::Acknowledged;
        self.stats.acks_received += 1;
        trace!(%peer, transaction = %id, "cached response released");
        true
    }

    pub(super) fn response_timer(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let cap = self.config.max_retransmit_interval;
        let Some(Remembered {
            state: Cached::Answered { bytes, retransmit },
            ..
        }) = self.remembered.get_mut(&(peer, id))
        else {
            return;
        };
        let Some((_, interval, n)) = *retransmit else {
            return;
        };
        if n >= max {
            *retransmit = None;
            debug!(%peer, transaction = %id, "final response never acknowledged");
            return;
        }
        let interval = (interval * 2).min(cap);
        *retransmit = Some((now + interval, interval, n + 1));
        self.stats.response_retransmissions += 1;
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        self.timers
            .insert((now + interval, Timer::Response(peer, id)));
    }
}
