//! The session with each board: connecting, sending commands and matching their answers,
//! retransmission (UDP), keep-alive probes, losing a session and reconnecting with back-off.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;
use tracing::{debug, trace, warn};

use super::jobs::{Job, silence};
use super::{Host, InFlight, Link, LinkId, State, Timer, Transport, code};
use crate::Transmit;
use crate::model::{DownReason, Event};
use crate::tpncp::wire::{self, Channel, DecodeErrorKind, Deframer, Header};

impl Host {
    /// Starts a session with a board: a TCP connection, or over UDP the re-sync at once.
    pub(super) fn connect(&mut self, now: Instant, g: usize) {
        let Some(address) = self.gateways[g].address else {
            self.gateways[g].state = State::Idle;
            return;
        };
        match self.gateways[g].transport {
            Transport::Tcp => {
                let link = self.new_link();
                let gw = &mut self.gateways[g];
                gw.link = Some(link);
                gw.state = State::Connecting;
                self.stats.connects += 1;
                debug!(gateway = %gw.id, %address, link = link.0, "connecting");
                self.links.push_back(Link::Connect {
                    link,
                    gateway: gw.id.clone(),
                    address,
                });
                self.timers
                    .set(Timer::Connect(g), now + self.config.connect_timeout);
            }
            Transport::Udp => self.start_sync(now, g),
        }
    }

    /// The driver opened the connection `link`.
    pub fn handle_connected(&mut self, now: Instant, link: LinkId) {
        let Some(g) = self.gateway_of_link(link) else {
            return;
        };
        if self.gateways[g].state != State::Connecting {
            self.stats.stale_link += 1;
            debug!(link = link.0, "a connection reported open twice");
            return;
        }
        self.timers.stop(Timer::Connect(g));
        debug!(gateway = %self.gateways[g].id, link = link.0, "connected");
        self.start_sync(now, g);
    }

    /// The connection `link` closed (or could not be opened).
    pub fn handle_closed(&mut self, now: Instant, link: LinkId) {
        let Some(g) = self.gateway_of_link(link) else {
            return;
        };
        self.gateways[g].link = None;
        self.lose_session(now, g, None, "the connection to the board closed");
    }

    /// Bytes read from the connection `link`, in any pieces: the host cuts them into
    /// messages. A framing error closes the connection.
    pub fn handle_stream(&mut self, now: Instant, link: LinkId, data: &[u8]) {
        let Some(g) = self.gateway_of_link(link) else {
            return;
        };
        if !self.gateways[g].state.in_session() {
            self.stats.stale_link += 1;
            debug!(link = link.0, "bytes from a connection not reported open");
            return;
        }
        self.gateways[g].deframer.push(data);
        while self.gateways[g].link == Some(link) {
            match self.gateways[g].deframer.next() {
                None => break,
                Some(Ok(message)) => self.handle_message(now, g, &message),
                Some(Err(e)) => {
                    self.stats.frame_errors += 1;
                    warn!(gateway = %self.gateways[g].id, error = %e, "unreadable TPNCP stream; connection closed");
                    self.lose_session(now, g, None, "the board's stream could not be read");
                }
            }
        }
    }

    /// One message from a board in session.
    pub(super) fn handle_message(&mut self, now: Instant, g: usize, data: &[u8]) {
        self.stats.messages_received += 1;
        self.gateways[g].last_heard = now;
        match wire::decode_event(data) {
            Ok((header, channel, event)) => {
                trace!(gateway = %self.gateways[g].id, seq = header.seq.0, channel = channel.0, ?event, "event");
                self.on_event(now, g, channel, event);
            }
            Err(e) => {
                if matches!(e.kind, DecodeErrorKind::UnknownId(_)) {
                    self.stats.unknown_id += 1;
                } else {
                    self.stats.malformed += 1;
                }
                debug!(gateway = %self.gateways[g].id, error = %e, "TPNCP message dropped");
            }
        }
    }

    /// After a (re)connection: every watched line re-synchronised (ring and tone stopped,
    /// channel closed, status queried); a board without lines is probed instead.
    pub(super) fn start_sync(&mut self, now: Instant, g: usize) {
        let gw = &mut self.gateways[g];
        gw.state = State::Syncing;
        gw.last_heard = now;
        gw.deframer = Deframer::new();
        let channels: Vec<Channel> = gw
            .lines
            .iter()
            .filter(|(_, l)| l.watched)
            .map(|(c, _)| *c)
            .collect();
        debug!(gateway = %gw.id, lines = channels.len(), "re-synchronising");
        if channels.is_empty() {
            self.send_probe(now, g);
            return;
        }
        for channel in channels {
            let [ring, tone] = silence(channel);
            // A trunk is never rung: it is put back on hook instead (its call did not
            // survive the session).
            let first = if self.is_trunk(g, channel) {
                wire::Command::SendAnalogSignal {
                    channel,
                    signal: wire::AnalogSignal::OnHook,
                    duration_ms: 0,
                }
            } else {
                ring
            };
            for job in [
                Job::Sync(first),
                Job::Sync(tone),
                Job::Sync(wire::Command::CloseChannel { channel }),
                Job::Status { model: false },
            ] {
                self.enqueue(now, g, channel, job);
            }
        }
    }

    /// Queries the first watched line (or channel 0) of a board with nothing in flight.
    pub(super) fn send_probe(&mut self, now: Instant, g: usize) {
        let gw = &self.gateways[g];
        let channel = gw
            .lines
            .iter()
            .find(|(_, l)| l.watched)
            .map_or(Channel(0), |(c, _)| *c);
        self.stats.probes_sent += 1;
        debug!(gateway = %gw.id, channel = channel.0, "probing the board");
        self.start_job(now, g, channel, Job::Probe);
    }

    /// Sends one command on a channel whose slot is free.
    pub(super) fn send(
        &mut self,
        now: Instant,
        g: usize,
        channel: Channel,
        command: wire::Command,
        job: Job,
        rest: VecDeque<wire::Command>,
    ) {
        let gw = &mut self.gateways[g];
        gw.seq = gw.seq.next();
        let header = Header {
            order: gw.order,
            version: wire::VERSION,
            seq: gw.seq,
        };
        let mut bytes = Vec::new();
        wire::encode_command(&header, &command, &mut bytes);
        trace!(gateway = %gw.id, seq = header.seq.0, ?command, "command");
        // A command never sent again (over TCP) keeps no copy.
        let retransmit = gw.transport == Transport::Udp && self.config.max_retransmits > 0;
        let (kept, wait) = if retransmit {
            let first = self.config.retransmit_interval.min(self.config.ack_timeout);
            (bytes.clone(), first)
        } else {
            (Vec::new(), self.config.ack_timeout)
        };
        self.output(g, bytes);
        self.stats.commands_sent += 1;
        self.gateways[g].in_flight.insert(
            channel,
            InFlight {
                seq: header.seq,
                command,
                bytes: kept,
                sent: now,
                retransmits: 0,
                acked: false,
                status: None,
                job,
                rest,
            },
        );
        self.timers.set(Timer::Ack(g, channel), now + wait);
    }

    /// Bytes to a board, over its connection or as a datagram.
    fn output(&mut self, g: usize, bytes: Vec<u8>) {
        let gw = &self.gateways[g];
        match (gw.transport, gw.address, gw.link) {
            (Transport::Udp, Some(destination), _) => self.transmits.push_back(Transmit {
                destination,
                contents: bytes,
            }),
            (Transport::Tcp, _, Some(link)) => self.links.push_back(Link::Write {
                link,
                gateway: gw.id.clone(),
                bytes,
            }),
            _ => debug!(gateway = %gw.id, "no way to the board; message dropped"),
        }
    }

    /// The board answered something we asked: a syncing session is up.
    pub(super) fn answered(&mut self, now: Instant, g: usize) {
        let gw = &mut self.gateways[g];
        if gw.state != State::Syncing {
            return;
        }
        gw.state = State::Up;
        gw.attempts = 0;
        self.stats.sessions_up += 1;
        debug!(gateway = %gw.id, "board up");
        self.events.push_back(Event::GatewayUp {
            gateway: gw.id.clone(),
        });
        self.timers
            .set(Timer::Keepalive(g), now + self.config.keepalive);
    }

    /// A timer ran out.
    pub(super) fn fire(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Ack(g, channel) => self.ack_timer(now, g, channel),
            Timer::Digits(g, channel) => self.digits_timer(g, channel),
            Timer::Ring(g, channel) => self.ring_timer(g, channel),
            Timer::Keepalive(g) => {
                if self.gateways[g].state != State::Up {
                    return;
                }
                let quiet_until = self.gateways[g].last_heard + self.config.keepalive;
                if now < quiet_until {
                    self.timers.set(Timer::Keepalive(g), quiet_until);
                    return;
                }
                // A command in flight is a probe already: its acknowledgement or time-out says.
                if self.gateways[g].in_flight.is_empty() {
                    self.send_probe(now, g);
                }
                self.timers
                    .set(Timer::Keepalive(g), now + self.config.keepalive);
            }
            Timer::Connect(g) => {
                if self.gateways[g].state == State::Connecting {
                    warn!(gateway = %self.gateways[g].id, "the connection to the board did not open in time");
                    self.lose_session(now, g, None, "the connection to the board did not open");
                }
            }
            Timer::Reconnect(g) => {
                if self.gateways[g].state == State::Waiting {
                    self.connect(now, g);
                }
            }
        }
    }

    /// A command's acknowledgement is late: retransmit it (UDP) or give the board up.
    fn ack_timer(&mut self, now: Instant, g: usize, channel: Channel) {
        let udp = self.gateways[g].transport == Transport::Udp;
        let max = self.config.max_retransmits;
        let Some(f) = self.gateways[g].in_flight.get_mut(&channel) else {
            return;
        };
        let give_up = f.sent + self.config.ack_timeout;
        if udp && f.retransmits < max && now < give_up {
            f.retransmits += 1;
            let next = if f.retransmits == max {
                give_up
            } else {
                let backoff = self
                    .config
                    .retransmit_interval
                    .saturating_mul(1 << f.retransmits.min(16));
                give_up.min(now + backoff)
            };
            let bytes = f.bytes.clone();
            self.stats.retransmits += 1;
            debug!(gateway = %self.gateways[g].id, channel = channel.0, "command retransmitted");
            self.output(g, bytes);
            self.timers.set(Timer::Ack(g, channel), next);
            return;
        }
        let seq = f.seq.0;
        self.stats.ack_timeouts += 1;
        warn!(gateway = %self.gateways[g].id, channel = channel.0, seq, "the board did not acknowledge a command");
        self.lose_session(
            now,
            g,
            Some(channel),
            "the connection to the board was lost",
        );
    }

    /// The session ended: the connection is closed, everything in flight or queued fails
    /// (`timed_out`: the channel whose command was not acknowledged), connections are lost,
    /// [`Event::GatewayDown`] is reported if the board was up, and a reconnection is timed.
    pub(super) fn lose_session(
        &mut self,
        now: Instant,
        g: usize,
        timed_out: Option<Channel>,
        why: &str,
    ) {
        let gw = &mut self.gateways[g];
        if let Some(link) = gw.link.take() {
            self.links.push_back(Link::Close {
                link,
                gateway: gw.id.clone(),
            });
        }
        let was = gw.state;
        gw.state = State::Waiting;
        gw.deframer = Deframer::new();
        let in_flight = std::mem::take(&mut gw.in_flight);
        self.timers.stop_gateway(g);
        for (channel, f) in in_flight {
            let (code, reason) = if timed_out == Some(channel) {
                (code::TIMEOUT, "the board did not acknowledge the command")
            } else {
                (code::NOT_READY, why)
            };
            self.job_failed(g, channel, f.job, code, reason);
        }
        let channels: Vec<Channel> = self.gateways[g].lines.keys().copied().collect();
        for channel in channels {
            let queued = self.gateways[g]
                .lines
                .get_mut(&channel)
                .map(|l| std::mem::take(&mut l.queue))
                .unwrap_or_default();
            for job in queued {
                self.job_failed(g, channel, job, code::NOT_READY, why);
            }
            let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
                continue;
            };
            line.off_hook = false;
            line.open = false;
            line.active = false;
            line.collect = None;
            line.pending = None;
            if line.trunk.is_some() {
                line.trunk = Some(super::trunk::Trunk::Idle);
            }
            if let Some(c) = line.connection.take()
                && c.created
            {
                self.events.push_back(Event::ConnectionLost {
                    line: line.id.clone(),
                    call: c.call,
                    reason: why.to_owned(),
                });
            }
        }
        if was.in_session() {
            self.stats.sessions_lost += 1;
        }
        if was == State::Up {
            warn!(gateway = %self.gateways[g].id, why, "board down");
            self.events.push_back(Event::GatewayDown {
                gateway: self.gateways[g].id.clone(),
                reason: DownReason::Unreachable,
            });
        }
        let wait = self.backoff(g);
        debug!(gateway = %self.gateways[g].id, ?wait, "reconnecting later");
        self.timers.set(Timer::Reconnect(g), now + wait);
    }

    /// The wait before the next attempt: `reconnect_min` doubled per failed attempt, at most
    /// `reconnect_max`, less a seeded jitter of up to a quarter (never below `reconnect_min`).
    fn backoff(&mut self, g: usize) -> Duration {
        let attempts = self.gateways[g].attempts;
        self.gateways[g].attempts = attempts.saturating_add(1);
        let base = self
            .config
            .reconnect_min
            .saturating_mul(1 << attempts.min(20))
            .min(self.config.reconnect_max);
        let quarter = u64::try_from((base / 4).as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(self.rng.gen_range(0..=quarter));
        base.saturating_sub(jitter).max(self.config.reconnect_min)
    }

    /// [`crate::model::Command::GatewayAddress`]: the board moved; the session (if any) ends
    /// and a new one starts at once at the new address. The same address, an unspecified
    /// one, or one another UDP board has, changes nothing.
    pub(super) fn move_gateway(&mut self, now: Instant, g: usize, address: std::net::SocketAddr) {
        let gw = &self.gateways[g];
        if gw.address == Some(address) || address.ip().is_unspecified() {
            return;
        }
        if gw.transport == Transport::Udp {
            if self.by_address.contains_key(&address) {
                warn!(gateway = %gw.id, %address, "another board is configured at this address: not moved");
                return;
            }
            if let Some(old) = gw.address {
                self.by_address.remove(&old);
            }
            self.by_address.insert(address, g);
        }
        debug!(gateway = %gw.id, %address, "the board moved");
        let was = gw.state;
        self.gateways[g].address = Some(address);
        if was != State::Idle {
            self.lose_session(now, g, None, "the board moved to another address");
        }
        self.timers.stop(Timer::Reconnect(g));
        self.gateways[g].attempts = 0;
        self.connect(now, g);
    }
}
