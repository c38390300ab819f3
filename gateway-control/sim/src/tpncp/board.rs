//! The simulated board's sans-IO core: the host link (TCP connection or UDP sender), command
//! decoding and answers, events, keep-alive, RTP on the channels' ports. The commands
//! themselves are carried out in [`super::execute`], the lines' state is [`super::line`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace, warn};

use gateway_control::tpncp::wire::{
    self, ByteOrder, Channel, DecodeErrorKind, Event, Header, Seq, VERSION,
};

use super::execute::{ErrorCode, Refusal, verb};
use super::fxo::Fxo;
use super::line::{Effects, Line};
use super::{Config, ConfigError};
use crate::analog::{LineCommand, Output};
use crate::{Transmit, Via};

/// What the board counts; every dropped input has a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Commands carried out and acknowledged (`acEV_COMMAND_ACK`).
    pub commands: u64,
    /// Commands refused with `acEV_ERROR` (unknown channel, wrong state, bad parameter).
    pub refused: u64,
    /// Messages with an id the board does not know (answered with `acEV_ERROR` when the
    /// header was readable).
    pub unknown_commands: u64,
    /// Messages that did not decode: truncated, lying length, bad values (answered with
    /// `acEV_ERROR` when the header was readable).
    pub malformed: u64,
    /// Host connections (TCP) accepted, and UDP hosts adopted.
    pub connections: u64,
    /// TCP connections closed because their framing was broken.
    pub frame_errors: u64,
    /// Connections and datagrams from an address other than the configured controller,
    /// refused or dropped.
    pub foreign: u64,
    /// Events sent to the host (answers included).
    pub events: u64,
    /// Events not sent because no host was connected.
    pub events_unsent: u64,
    /// `acEV_KEEP_ALIVE` sent.
    pub keepalives: u64,
    /// RTP datagrams for no active connection, or unparseable, dropped.
    pub rtp_dropped: u64,
    /// Line commands refused (bad line, wrong hook state, no connection).
    pub line_commands_refused: u64,
    /// Commands received again (same sender, sequence number and id as one recently carried
    /// out or refused: a UDP retransmission or duplicate), answered again, not executed.
    pub duplicates: u64,
}

/// Why the host's TCP connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disconnect {
    /// The host closed it.
    Closed,
    /// A new connection from the host took its place.
    Replaced,
    /// Its framing was broken (a length below the header's or beyond the largest message):
    /// the board closed it, as the stream cannot be resynchronised.
    Framing(String),
    /// Reading or writing failed.
    Io(String),
}

impl Disconnect {
    /// The reason printed, if any.
    fn reason(&self) -> Option<String> {
        match self {
            Self::Closed => None,
            Self::Replaced => Some("replaced".into()),
            Self::Framing(e) => Some(format!("framing: {e}")),
            Self::Io(e) => Some(format!("i/o: {e}")),
        }
    }
}

/// Where unsolicited events go: the TCP connection's peer, or the UDP host's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Host {
    addr: SocketAddr,
    /// The byte order of the host's last message (events are written in it).
    order: ByteOrder,
}

/// The simulated AudioCodes FXS board, speaking TPNCP to one host.
///
/// The driver's loop, in quinn's order:
/// 1. feed inputs: [`handle_connected`](Self::handle_connected) and
///    [`handle_disconnected`](Self::handle_disconnected) as the host's TCP connection comes and
///    goes (or [`handle_refused`](Self::handle_refused) when the driver turned one away),
///    [`handle_datagram`](Self::handle_datagram) for each message from the host (a UDP
///    datagram, or one message the driver's deframer cut from the TCP stream),
///    [`handle_rtp`](Self::handle_rtp) for RTP on a channel's port,
///    [`handle_line`](Self::handle_line) for a line command, and
///    [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) is due;
/// 2. drain [`poll_transmit`](Self::poll_transmit) and send each message from its [`Via`]
///    (control messages to the TCP peer go on its connection, others by UDP);
/// 3. drain [`poll_output`](Self::poll_output) and report each [`Output`];
/// 4. wait for the next input or [`poll_timeout`](Self::poll_timeout).
///
/// Channel state (open channels, RTP, the ring, tones, the lamp) survives the host's
/// disconnection, as on a real board: a host that connects again re-syncs it.
pub struct Board {
    pub(super) config: Config,
    pub(super) lines: Vec<Line>,
    /// The TCP connection's peer, while one is up.
    tcp_peer: Option<SocketAddr>,
    host: Option<Host>,
    /// The board's own event numbering.
    seq: Seq,
    keepalive_at: Option<Instant>,
    /// Ports the driver bound ([`add_rtp_port`](Self::add_rtp_port)); empty: every
    /// channel's port is taken as usable.
    bound: Vec<u16>,
    rng: StdRng,
    pub(super) transmits: VecDeque<Transmit>,
    /// The answers to the last [`RECENT_ANSWERS`] commands, by sender, sequence number and id,
    /// sent again (and nothing executed) when the same command comes again.
    pub(super) recent: VecDeque<(Recent, Vec<Transmit>)>,
    pub(super) outputs: VecDeque<Output>,
    pub(super) stats: Stats,
}

/// How many commands' answers the board keeps for a repeated command.
pub(super) const RECENT_ANSWERS: usize = 64;

/// What identifies a command for its repetition: the sender, its sequence number and its id.
pub(super) type Recent = (SocketAddr, Seq, u32);

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("lines", &self.lines.len())
            .field("tcp_peer", &self.tcp_peer)
            .field("host", &self.host)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Board {
    /// A board with `config.lines` idle lines (on hook, channels closed) and no host.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let lines = (0..config.lines)
            .map(|i| {
                let mut line = Line::new(i);
                if config.fxo.is_fxo(line.number) {
                    line.fxo = Some(Fxo::new(line.number, &config));
                }
                line
            })
            .collect();
        let rng = StdRng::seed_from_u64(config.seed ^ 0x0054_504e_4350);
        Ok(Self {
            config,
            lines,
            tcp_peer: None,
            host: None,
            seq: Seq(0),
            keepalive_at: None,
            bound: Vec::new(),
            rng,
            transmits: VecDeque::new(),
            recent: VecDeque::new(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Where events go now: the connected host, if any.
    pub fn host(&self) -> Option<SocketAddr> {
        self.host.map(|h| h.addr)
    }

    /// The RTP port of channel `channel` (`rtp_port + 10 × channel`), if it exists.
    pub fn channel_port(&self, channel: usize) -> Option<u16> {
        (channel < self.lines.len()).then(|| self.config.channel_port(channel))
    }

    /// A channel's RTP port the driver bound. Once the driver has reported one, only the
    /// ports it reported can carry RTP (`acCMD_ACTIVATE_RTP_RTCP` on another is refused).
    pub fn add_rtp_port(&mut self, port: u16) {
        if !self.bound.contains(&port) {
            self.bound.push(port);
        }
    }

    pub(super) fn port_usable(&self, port: u16) -> bool {
        self.bound.is_empty() || self.bound.contains(&port)
    }

    // ---- inputs ----

    /// The host connected over TCP from `peer` (the driver checked it is the controller). A
    /// connection already up was replaced: the driver reports its end first.
    pub fn handle_connected(&mut self, now: Instant, peer: SocketAddr) {
        if !self.allowed(peer) {
            self.handle_refused(now, peer);
            return;
        }
        debug!(%peer, "host connected");
        self.tcp_peer = Some(peer);
        self.adopt(now, peer, self.config.byte_order);
    }

    /// The host's TCP connection from `peer` ended, and why.
    pub fn handle_disconnected(&mut self, now: Instant, peer: SocketAddr, why: Disconnect) {
        let _ = now;
        if let Disconnect::Framing(e) = &why {
            self.stats.frame_errors += 1;
            warn!(%peer, error = %e, "host's framing broken; connection closed");
        } else {
            debug!(%peer, ?why, "host disconnected");
        }
        if self.tcp_peer == Some(peer) {
            self.tcp_peer = None;
        }
        if self.host.is_some_and(|h| h.addr == peer) {
            self.host = None;
            self.keepalive_at = None;
        }
        self.outputs.push_back(Output::Host {
            event: "disconnected",
            peer,
            reason: why.reason(),
        });
    }

    /// The driver turned away a connection from `peer`, which is not the controller.
    pub fn handle_refused(&mut self, now: Instant, peer: SocketAddr) {
        let _ = now;
        self.stats.foreign += 1;
        warn!(%peer, "connection from another address than the controller's refused");
        self.outputs.push_back(Output::Host {
            event: "refused",
            peer,
            reason: Some("not the controller".into()),
        });
    }

    fn allowed(&self, peer: SocketAddr) -> bool {
        self.config.controller.is_none_or(|c| c == peer.ip())
    }

    /// `addr` becomes the host events go to.
    fn adopt(&mut self, now: Instant, addr: SocketAddr, order: ByteOrder) {
        self.host = Some(Host { addr, order });
        self.stats.connections += 1;
        self.keepalive_at = self.config.keepalive.map(|k| now + k);
        self.outputs.push_back(Output::Host {
            event: "connected",
            peer: addr,
            reason: None,
        });
    }

    /// One message from the host: a UDP datagram, or one message of the TCP stream. A UDP
    /// sender becomes the host when no TCP connection is up.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if !self.allowed(from) {
            self.stats.foreign += 1;
            debug!(%from, "message from another address than the controller's dropped");
            return;
        }
        match wire::decode_command(data) {
            Ok((header, command)) => {
                trace!(%from, seq = header.seq.0, id = wire::command_id(&command), "command");
                self.note_host(now, from, header.order);
                self.execute(now, from, header, &command);
            }
            Err(e) => {
                let unknown = matches!(e.kind, DecodeErrorKind::UnknownId(_));
                if unknown {
                    self.stats.unknown_commands += 1;
                } else {
                    self.stats.malformed += 1;
                }
                debug!(%from, error = %e, "command not decoded");
                let Some((header, id)) = e.header.zip(e.id) else {
                    return;
                };
                self.note_host(now, from, header.order);
                let channel = peek_channel(data, header.order);
                let refusal = if unknown {
                    Refusal::new(
                        ErrorCode::UnknownCommand,
                        format!("unknown command id {id}"),
                    )
                } else {
                    Refusal::new(ErrorCode::Malformed, e.to_string())
                };
                let line = self.line_of(channel).map(|li| self.lines[li].number);
                self.refuse(from, header, id, line, channel, refusal);
            }
        }
        self.poll_media(now);
    }

    /// A valid message from `from`: it becomes (or stays) the host if no TCP connection is
    /// up, and its byte order is used for later events.
    fn note_host(&mut self, now: Instant, from: SocketAddr, order: ByteOrder) {
        match self.host {
            Some(ref mut h) if h.addr == from => h.order = order,
            Some(_) if self.tcp_peer.is_some() => {}
            _ => {
                debug!(%from, "UDP host");
                self.adopt(now, from, order);
            }
        }
    }

    /// An RTP datagram arrived on the socket bound to `local_port`.
    pub fn handle_rtp(&mut self, now: Instant, local_port: u16, from: SocketAddr, data: &[u8]) {
        let line = self.lines.iter_mut().find(|l| {
            l.conn
                .as_ref()
                .is_some_and(|c| c.local.port() == local_port)
        });
        let Some(line) = line else {
            self.stats.rtp_dropped += 1;
            debug!(local_port, %from, "RTP for no active channel dropped");
            return;
        };
        let hearing = line.phone.hearing;
        let number = line.number;
        let Some(conn) = line.conn.as_mut() else {
            return;
        };
        let dropped = conn.stats.dropped;
        let samples = conn.handle_rtp(now, data);
        if conn.stats.dropped > dropped {
            self.stats.rtp_dropped += 1;
        }
        match samples {
            Some(samples) if hearing => self.outputs.push_back(Output::Audio {
                line: number,
                samples,
            }),
            _ => trace!(local_port, "RTP not played"),
        }
    }

    /// A line command from the operator (or a test).
    pub fn handle_line(&mut self, now: Instant, cmd: LineCommand) {
        let n = cmd.line();
        let Some(li) = usize::from(n)
            .checked_sub(1)
            .filter(|&i| i < self.lines.len())
        else {
            self.refuse_line(n, format!("no line {n}"));
            return;
        };
        let mut fx = Effects::default();
        let delay = self.config.autoanswer_delay;
        let line = &mut self.lines[li];
        if let Some(refused) = line.fxo_line(now, &cmd, delay, &mut fx) {
            if let Some(why) = refused {
                self.refuse_line(n, why.into());
            }
            self.apply(fx);
            self.poll_media(now);
            return;
        }
        let refused: Option<&str> = match cmd {
            LineCommand::OffHook(_) => {
                (!line.hook(true, false, &mut fx)).then_some("already off-hook")
            }
            LineCommand::OnHook(_) => {
                (!line.hook(false, false, &mut fx)).then_some("already on-hook")
            }
            LineCommand::Digits(_, keys) if line.phone.is_off_hook() => {
                for k in keys.chars() {
                    line.key(k, &mut fx);
                }
                None
            }
            LineCommand::Flash(_) if line.phone.is_off_hook() => {
                line.flash(&mut fx);
                None
            }
            LineCommand::Digits(..) | LineCommand::Flash(_) => Some("line is on-hook"),
            LineCommand::AutoAnswer(_, on) => {
                let ringing = line.ringing;
                line.phone.set_autoanswer(now, on, ringing, delay);
                None
            }
            LineCommand::Say { samples, .. } => match line.conn.as_mut() {
                Some(c) if c.saying() => Some("already saying something"),
                Some(c) => {
                    c.start_say(now, samples);
                    None
                }
                None => Some("no RTP connection (the host has not activated RTP)"),
            },
            LineCommand::Hear { on, .. } => {
                let was = line.phone.hearing;
                line.phone.hearing = on;
                if was && !on {
                    fx.outputs.push(Output::HearEnded { line: n });
                }
                None
            }
        };
        if let Some(why) = refused {
            self.refuse_line(n, why.into());
        }
        self.apply(fx);
        self.poll_media(now);
    }

    fn refuse_line(&mut self, line: u16, message: String) {
        self.stats.line_commands_refused += 1;
        debug!(line, why = %message, "line command refused");
        self.outputs.push_back(Output::Error {
            line: Some(line),
            message,
        });
    }

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.keepalive_at
            && at <= now
        {
            self.keepalive(now);
        }
        let mut fx = Effects::default();
        for line in &mut self.lines {
            if line.poll_timeout().is_some_and(|t| t <= now) {
                line.handle_timeout(now, &mut fx);
            }
        }
        self.apply(fx);
        self.poll_media(now);
    }

    fn keepalive(&mut self, now: Instant) {
        self.keepalive_at = self
            .config
            .keepalive
            .filter(|_| self.host.is_some())
            .map(|k| now + k);
        let Some(host) = self.host else {
            return;
        };
        self.stats.keepalives += 1;
        let processed = i32::try_from(self.stats.commands + self.stats.refused).unwrap_or(i32::MAX);
        self.send_event(
            host.addr,
            host.order,
            Channel(-1),
            &Event::KeepAlive {
                commands_processed: processed,
            },
        );
    }

    /// Sends the RTP that became due (an FXO port's tone going on once a chunk is out).
    pub(super) fn poll_media(&mut self, now: Instant) {
        let mut out = Vec::new();
        for line in &mut self.lines {
            let Some(conn) = line.conn.as_mut() else {
                continue;
            };
            if conn.poll_timeout().is_some_and(|at| at <= now)
                && let Some(packets) = conn.poll_say(now, &mut out)
            {
                // The PBX's tone is no `say` of the operator's.
                let tone = line
                    .fxo
                    .as_mut()
                    .is_some_and(|f| std::mem::take(&mut f.tone_playing));
                if !tone {
                    self.outputs.push_back(Output::SayDone {
                        line: line.number,
                        packets,
                        complete: true,
                    });
                }
                line.fxo_tone(now);
            }
        }
        for p in out {
            self.transmits.push_back(Transmit {
                via: Via::Rtp(p.local_port),
                destination: p.to,
                contents: p.bytes,
            });
        }
    }

    // ---- outputs ----

    /// The next message or RTP datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next thing to report.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let lines = self.lines.iter().filter_map(Line::poll_timeout).min();
        [self.keepalive_at, lines].into_iter().flatten().min()
    }

    // ---- internals ----

    /// The index of channel `channel`'s line.
    pub(super) fn line_of(&self, channel: Channel) -> Option<usize> {
        usize::try_from(channel.0)
            .ok()
            .filter(|&c| c < self.lines.len())
    }

    /// Moves effects into the queues: outputs reported, events sent to the host.
    pub(super) fn apply(&mut self, fx: Effects) {
        self.outputs.extend(fx.outputs);
        for (li, event) in fx.events {
            let channel = Channel(li as i32);
            match self.host {
                Some(h) => self.send_event(h.addr, h.order, channel, &event),
                None => {
                    self.stats.events_unsent += 1;
                    debug!(
                        channel = channel.0,
                        id = wire::event_id(&event),
                        "no host: event not sent"
                    );
                }
            }
        }
    }

    /// Sends `event` on `channel` to `to`, numbered with the board's next sequence number.
    pub(super) fn send_event(
        &mut self,
        to: SocketAddr,
        order: ByteOrder,
        channel: Channel,
        event: &Event,
    ) {
        let header = Header {
            order,
            version: VERSION,
            seq: self.seq,
        };
        self.seq = self.seq.next();
        let mut contents = Vec::new();
        wire::encode_event(&header, channel, event, &mut contents);
        self.stats.events += 1;
        trace!(%to, channel = channel.0, id = wire::event_id(event), "event");
        self.transmits.push_back(Transmit {
            via: Via::Control,
            destination: to,
            contents,
        });
    }

    /// Answers a command `id` from `from` with `acEV_ERROR` and reports it.
    pub(super) fn refuse(
        &mut self,
        from: SocketAddr,
        header: Header,
        id: u32,
        line: Option<u16>,
        channel: Channel,
        refusal: Refusal,
    ) {
        let code = refusal.code.code();
        debug!(seq = header.seq.0, id, code, why = %refusal.text, "command refused");
        let mut text = refusal.text;
        // acEV_ERROR's error_string holds 255 bytes: cut at a character boundary.
        while text.len() > 255 {
            text.pop();
        }
        self.send_event(from, header.order, channel, &Event::Error { code, text });
        self.outputs.push_back(Output::HostCommand {
            line,
            verb: verb(id),
            seq: header.seq.0,
            code,
        });
    }

    /// A random triple for a new RTP stream: SSRC, first sequence number, first timestamp.
    pub(super) fn rtp_random(&mut self) -> (u32, u16, u32) {
        (self.rng.r#gen(), self.rng.r#gen(), self.rng.r#gen())
    }
}

/// The channel of a command that did not decode: its structure's first field (bytes 12–15),
/// when present, else the board (-1).
fn peek_channel(data: &[u8], order: ByteOrder) -> Channel {
    let Some(b) = data.get(wire::MIN_LEN..wire::MIN_LEN + 4) else {
        return Channel(-1);
    };
    let b = [b[0], b[1], b[2], b[3]];
    Channel(match order {
        ByteOrder::Big => i32::from_be_bytes(b),
        ByteOrder::Little => i32::from_le_bytes(b),
    })
}

impl crate::Simulator for Board {
    fn handle_datagram(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]) {
        match via {
            Via::Control => Self::handle_datagram(self, now, from, data),
            Via::Rtp(port) => self.handle_rtp(now, port, from, data),
        }
    }

    fn handle_line(&mut self, now: Instant, command: LineCommand) {
        Self::handle_line(self, now, command);
    }

    fn handle_trunk(&mut self, now: Instant, command: crate::TrunkCommand) -> bool {
        if self.config.fxo.highest().is_none() {
            return false;
        }
        Self::handle_trunk(self, now, command);
        true
    }

    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        Self::poll_transmit(self)
    }

    fn poll_output(&mut self) -> Option<Output> {
        Self::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }
}
