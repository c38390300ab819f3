//! The common gateway model: what every protocol subsystem (MGCP, MEGACO, TPNCP) translates to,
//! and all the station manager ever sees.
//!
//! A *gateway* is a configured device ([`GatewayId`], its name in the config); a *line*
//! ([`LineId`]) is one analog port on it, named by the gateway's own local endpoint name
//! (`aaln/1` for MGCP, a termination id for MEGACO, a channel number for TPNCP). The controller
//! sends [`Command`]s to lines and receives [`Event`]s from them. Media is described from the
//! gateway's point of view, as MGCP and H.248 do: a connection in [`ConnectionMode::SendOnly`]
//! sends audio from the line towards Offhook.
//!
//! A line is either a *station line* (an FXS port: a phone plugged into the gateway, which the
//! gateway rings and whose hook it watches) or a *trunk* (an FXO port: the gateway is the phone,
//! on a line from a PBX or the public network). Trunks take their own commands —
//! [`Command::Seize`], [`Command::Dial`], [`Command::Answer`], [`Command::Release`] — and report
//! [`Event::IncomingCall`], [`Event::DialComplete`], [`Event::FarEndAnswer`] and
//! [`Event::FarEndDisconnect`]; connections, digits and tones work on both kinds. Which ports
//! are trunks is the configuration's to say (`[[trunk]] endpoints`); a core told of them with
//! [`Command::AddTrunk`] arms them for incoming calls and line-side supervision instead of
//! off-hook.
//!
//! Commands are fire-and-forget: their outcome comes back as an event naming the same line and,
//! for connections, the same [`CallId`] (which the controller picks, so it can correlate without
//! waiting). Protocol details — transaction ids, retransmission, re-arming lines for off-hook,
//! restart handling — stay inside each protocol's core.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use crate::digitmap::DigitMap;

/// A gateway, by its configured name (`[[gateway]] name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatewayId(Arc<str>);

impl GatewayId {
    /// A gateway id from its configured name.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatewayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line (analog port, endpoint, termination) on a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId {
    /// The gateway.
    pub gateway: GatewayId,
    /// The line's name on the gateway: an MGCP local endpoint name such as `aaln/1`, a MEGACO
    /// termination id, or a TPNCP channel number. It may be wildcarded (`rtpbridge/*`) in a
    /// [`Command::CreateConnection`]; the event answering it names the specific line.
    pub endpoint: Arc<str>,
}

impl LineId {
    /// A line id from a gateway and its local endpoint name.
    pub fn new(gateway: GatewayId, endpoint: &str) -> Self {
        Self {
            gateway,
            endpoint: Arc::from(endpoint),
        }
    }
}

impl fmt::Display for LineId {
    /// `gateway/endpoint`, as `offhook user add --line` takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.gateway, self.endpoint)
    }
}

/// A connection handle chosen by the controller when it asks for a connection, so that every
/// later command and event about that connection can name it before the gateway has answered.
/// Protocols map it to their own identifiers (MGCP's call id is its hex form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", self.0)
    }
}

/// A DTMF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(char);

impl Digit {
    /// A digit from `0`–`9`, `*`, `#` or `A`–`D` (case-insensitive); `None` for anything else.
    pub fn new(c: char) -> Option<Self> {
        match c.to_ascii_uppercase() {
            c @ ('0'..='9' | '*' | '#' | 'A'..='D') => Some(Self(c)),
            _ => None,
        }
    }

    /// The key as a character (`0`–`9`, `*`, `#`, `A`–`D`).
    pub fn as_char(self) -> char {
        self.0
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Audio codecs a connection may use: 8 kHz G.711 (RFC 3551 static payload types), and Opus
/// (RFC 7587) on SIP calls whose phone offers it. Media gateways (MGCP, MEGACO, TPNCP) are
/// G.711 only; their cores refuse or never negotiate Opus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
    /// Opus (RFC 7587), always `opus/48000/2` in SDP, on the dynamic payload type the offer
    /// chose.
    Opus {
        /// The dynamic RTP payload type (96–127 in practice).
        payload_type: u8,
    },
}

impl Codec {
    /// The RTP payload type: RFC 3551's static one for G.711, the negotiated one for Opus.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::Opus { payload_type } => payload_type,
        }
    }

    /// The encoding name (`PCMU`, `PCMA`, `opus`), as in an SDP `rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::Opus { .. } => "opus",
        }
    }

    /// The RTP clock rate in Hz: 8000 for G.711, 48000 for Opus (RFC 7587 §4.1, whatever
    /// the audio bandwidth).
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma => 8000,
            Self::Opus { .. } => 48_000,
        }
    }

    /// Whether this is G.711 (either law).
    pub fn is_g711(self) -> bool {
        matches!(self, Self::Pcmu | Self::Pcma)
    }
}

/// Which way media flows on a connection, seen from the gateway (RFC 3435 §3.2.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionMode {
    /// The gateway sends the line's audio and ignores what it receives (recording).
    SendOnly,
    /// The gateway plays what it receives and sends nothing (playback).
    RecvOnly,
    /// Both ways (intercom, a reply while listening).
    SendRecv,
    /// Neither way; the connection is held.
    Inactive,
    /// The gateway sends back what it receives (RFC 3435 `loopback`): a media-path check.
    Loopback,
}

/// Where and how one side of a connection sends and receives RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Media {
    /// RTP address and port (RTCP is on port + 1).
    pub address: SocketAddr,
    /// The audio codec.
    pub codec: Codec,
    /// Packetisation time.
    pub ptime: Duration,
    /// RFC 4733 telephone-event payload type, if that side sends or accepts digits in-band.
    pub telephone_event: Option<u8>,
}

/// The ringing pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cadence {
    /// The gateway's normal ring.
    #[default]
    Normal,
    /// Distinctive ring pattern `n` (0–7; RFC 3660 `L/r0`…`L/r7`, H.248 `alert/ri` pattern).
    Distinctive(u8),
}

/// Caller-id text shown on the phone while it rings (Bellcore/ETSI FSK, as the gateway does it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CallerId {
    /// The number, if any.
    pub number: Option<String>,
    /// The name, if any.
    pub name: Option<String>,
}

/// Call-progress tones and indications a line can be asked to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tone {
    /// Dial tone (RFC 3660 `L/dl`).
    Dial,
    /// Stutter dial tone, used as a message-waiting indication (`L/sl`).
    StutterDial,
    /// Busy (`L/bz`).
    Busy,
    /// Ringback (`L/rt`).
    Ringback,
    /// Call waiting (`L/wt`).
    CallWaiting,
    /// Confirmation, a short tone saying "done, go ahead" (`L/cf`).
    Confirmation,
    /// Reorder / fast busy (`L/ro`).
    Reorder,
    /// Operation complete (`L/oc`).
    OperationComplete,
    /// Operation failure (`L/of`).
    OperationFailure,
    /// Visual message-waiting indicator on (`L/vmwi(+)`); the lamp stays until [`Command::StopTone`].
    MessageWaitingLamp,
}

/// How a trunk sends the number it dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DialMethod {
    /// DTMF tones (Q.23/Q.24), what every PBX and exchange accepts today.
    #[default]
    Dtmf,
    /// Loop-disconnect (pulse) dialling, for old exchanges; a gateway that cannot answers
    /// [`Event::CommandFailed`].
    Pulse,
}

/// Why the far end of a trunk call is gone, or never came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disconnect {
    /// The exchange dropped loop current for a moment (calling party control, CPC): the far
    /// end hung up.
    LoopCurrentDrop,
    /// Busy tone: the number is busy, or (after an answer) the far end hung up and the PBX
    /// plays busy.
    Busy,
    /// Reorder (fast busy, congestion): the call cannot be completed, or the far end is long
    /// gone.
    Reorder,
    /// An incoming call stopped ringing before it was answered (the caller gave up).
    RingingStopped,
}

/// What the station manager asks of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Ring the phone until it is picked up or [`Command::StopRing`].
    Ring {
        /// Which line.
        line: LineId,
        /// The ringing pattern.
        cadence: Cadence,
        /// Caller-id text to show, if the gateway supports it.
        caller_id: Option<CallerId>,
    },
    /// Stop ringing.
    StopRing {
        /// Which line.
        line: LineId,
    },
    /// Play a tone (or set an indicator) on the line.
    PlayTone {
        /// Which line.
        line: LineId,
        /// Which tone.
        tone: Tone,
    },
    /// Stop any tone or indicator on the line.
    StopTone {
        /// Which line.
        line: LineId,
    },
    /// Create an RTP connection on the line. Answered by [`Event::ConnectionCreated`] or
    /// [`Event::CommandFailed`].
    CreateConnection {
        /// Which line (may be wildcarded where the gateway allows it).
        line: LineId,
        /// The handle every later command and event uses for this connection.
        call: CallId,
        /// Direction of media.
        mode: ConnectionMode,
        /// Codec and packetisation the gateway should use.
        codec: Codec,
        /// Packetisation time.
        ptime: Duration,
        /// Offhook's side of the media, if already known.
        remote: Option<Media>,
    },
    /// Change a connection's mode or Offhook's side of the media.
    ModifyConnection {
        /// Which line.
        line: LineId,
        /// Which connection.
        call: CallId,
        /// New direction, if it changes.
        mode: Option<ConnectionMode>,
        /// New remote media, if it changes.
        remote: Option<Media>,
    },
    /// Delete a connection. Answered by [`Event::ConnectionDeleted`].
    DeleteConnection {
        /// Which line.
        line: LineId,
        /// Which connection.
        call: CallId,
    },
    /// Ask the gateway for the line's state. Answered by [`Event::LineStatus`].
    Audit {
        /// Which line.
        line: LineId,
    },
    /// Start watching a line the controller did not know at start (a phone added while the
    /// appliance runs): from now on it is kept armed like the configured ones. If its gateway
    /// is in service it is audited and armed at once, answered by [`Event::LineStatus`];
    /// otherwise with the gateway's other lines when it comes up. A line already watched is
    /// audited again. A gateway the controller does not drive answers
    /// [`Event::CommandFailed`].
    AddLine {
        /// Which line.
        line: LineId,
    },
    /// Stop watching a line (its phone was removed): the gateway is told to report nothing
    /// more from it and to stop its signals, and later events from it are refused as from an
    /// unknown endpoint. Delete the line's connections first; nothing answers this command.
    RemoveLine {
        /// Which line.
        line: LineId,
    },
    /// Collect a dial string on an off-hook line against a digit map (RFC 3435 §2.1.5): the
    /// gateway gathers the keys itself and reports them at once when the string matches the
    /// map (or can no longer match, or the inter-digit timer runs out), answered by one
    /// [`Event::Dialled`]; single keys ([`Event::Digit`]) are not reported meanwhile. Collecting
    /// ends with that report or with the hang-up; an on-hook line answers
    /// [`Event::CommandFailed`] (`402`), as does a gateway that cannot (`519`, `522`…).
    CollectDigits {
        /// Which line.
        line: LineId,
        /// The dial plan, such as `(xxxx|*xx|0T|9011x.T)`.
        map: DigitMap,
    },
    /// Start watching a line as a trunk (FXO port): like [`Command::AddLine`], but the core arms
    /// it for incoming calls ([`Event::IncomingCall`]) and far-end supervision rather than for
    /// off-hook, and never rings it. Answered by [`Event::LineStatus`] (`off_hook`: the port is
    /// seized) when its gateway is in service. Send it for every trunk port, configured or not,
    /// before any other trunk command.
    AddTrunk {
        /// Which port.
        line: LineId,
    },
    /// Take the trunk off hook towards the PBX or exchange (loop start) to place a call. The
    /// gateway waits for dial tone itself before dialling what [`Command::Dial`] gives it. A
    /// port that is ringing for an incoming call (glare) or already in use answers
    /// [`Event::CommandFailed`].
    Seize {
        /// Which port.
        line: LineId,
    },
    /// Dial a number on a seized trunk. Answered by [`Event::DialComplete`] once the last
    /// digit is out (or [`Event::CommandFailed`]).
    Dial {
        /// Which port.
        line: LineId,
        /// The number, in order.
        number: Vec<Digit>,
        /// DTMF or pulse.
        method: DialMethod,
    },
    /// Answer an incoming call on a trunk (take it off hook while it rings).
    Answer {
        /// Which port.
        line: LineId,
    },
    /// Put the trunk back on hook: the call, outgoing or incoming, is over and the port free.
    /// Delete its connections first or after; nothing answers this command.
    Release {
        /// Which port.
        line: LineId,
    },
    /// The gateway is now at this address: its DNS name was resolved again and gave another
    /// one (or a first one). Commands go there from now on and its lines are audited again.
    /// Cores whose gateways find them by themselves (MEGACO) ignore it; nothing answers it.
    GatewayAddress {
        /// Which gateway.
        gateway: GatewayId,
        /// Where it listens now.
        address: SocketAddr,
    },
}

impl Command {
    /// The gateway the command is for.
    pub fn gateway(&self) -> &GatewayId {
        match self {
            Self::GatewayAddress { gateway, .. } => gateway,
            Self::Ring { line, .. }
            | Self::StopRing { line }
            | Self::PlayTone { line, .. }
            | Self::StopTone { line }
            | Self::CreateConnection { line, .. }
            | Self::ModifyConnection { line, .. }
            | Self::DeleteConnection { line, .. }
            | Self::Audit { line }
            | Self::AddLine { line }
            | Self::RemoveLine { line }
            | Self::CollectDigits { line, .. }
            | Self::AddTrunk { line }
            | Self::Seize { line }
            | Self::Dial { line, .. }
            | Self::Answer { line }
            | Self::Release { line } => &line.gateway,
        }
    }

    /// The line the command is for; `None` for a command about a whole gateway.
    pub fn line(&self) -> Option<&LineId> {
        match self {
            Self::Ring { line, .. }
            | Self::StopRing { line }
            | Self::PlayTone { line, .. }
            | Self::StopTone { line }
            | Self::CreateConnection { line, .. }
            | Self::ModifyConnection { line, .. }
            | Self::DeleteConnection { line, .. }
            | Self::Audit { line }
            | Self::AddLine { line }
            | Self::RemoveLine { line }
            | Self::CollectDigits { line, .. }
            | Self::AddTrunk { line }
            | Self::Seize { line }
            | Self::Dial { line, .. }
            | Self::Answer { line }
            | Self::Release { line } => Some(line),
            Self::GatewayAddress { .. } => None,
        }
    }

    /// The connection the command is about, for the three connection commands.
    pub fn call(&self) -> Option<CallId> {
        match self {
            Self::CreateConnection { call, .. }
            | Self::ModifyConnection { call, .. }
            | Self::DeleteConnection { call, .. } => Some(*call),
            _ => None,
        }
    }
}

/// Why a gateway is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// It announced a graceful restart: it goes out of service after this delay (calls may finish).
    Graceful(Duration),
    /// It announced a forced restart or shut down: every line and connection is gone now.
    Forced,
    /// It stopped answering: commands to it timed out.
    Unreachable,
}

/// What the lines and gateways report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The gateway is in service (it registered, came back, or answered again). Its lines have
    /// been audited and armed; a [`Event::LineStatus`] per line follows.
    GatewayUp {
        /// Which gateway.
        gateway: GatewayId,
    },
    /// The gateway is out of service or restarting. Its lines' connections are gone.
    GatewayDown {
        /// Which gateway.
        gateway: GatewayId,
        /// Why.
        reason: DownReason,
    },
    /// A line's hook state as audited (after [`Command::Audit`] or a gateway coming up).
    LineStatus {
        /// Which line.
        line: LineId,
        /// Whether the handset is off the hook.
        off_hook: bool,
    },
    /// The handset was picked up.
    OffHook {
        /// Which line.
        line: LineId,
    },
    /// The handset was put down.
    OnHook {
        /// Which line.
        line: LineId,
    },
    /// The hook switch was flashed.
    HookFlash {
        /// Which line.
        line: LineId,
    },
    /// A key was pressed (reported by the gateway; in-band RFC 4733 digits come through the media
    /// path instead).
    Digit {
        /// Which line.
        line: LineId,
        /// Which key.
        digit: Digit,
    },
    /// A dial string collected under [`Command::CollectDigits`], reported in one piece.
    Dialled {
        /// Which line.
        line: LineId,
        /// The keys, in order (a timer event `T` some gateways add is not one). Whether the
        /// string matched the map is the consumer's to check (`DigitMap::check`): a gateway
        /// also reports a string that can no longer match.
        digits: Vec<Digit>,
    },
    /// A call from the PBX or exchange rings a trunk (once per call, at the first ring or
    /// once the caller id between the first two rings is decoded, as the gateway reports it).
    IncomingCall {
        /// Which port.
        line: LineId,
        /// The caller, when the line sends caller id.
        caller_id: Option<CallerId>,
    },
    /// The number given with [`Command::Dial`] has been sent out.
    DialComplete {
        /// Which port.
        line: LineId,
    },
    /// The far end answered a call placed on a trunk, as the line signals it (polarity
    /// reversal, or the gateway's own answer detection). Lines that give no answer signal
    /// never send this: answer is then told from the media (voice after dialling).
    FarEndAnswer {
        /// Which port.
        line: LineId,
    },
    /// The far end of a trunk call is gone (or an incoming call stopped ringing), as the
    /// gateway detected it.
    FarEndDisconnect {
        /// Which port.
        line: LineId,
        /// How it showed.
        why: Disconnect,
    },
    /// A connection asked for with [`Command::CreateConnection`] exists.
    ConnectionCreated {
        /// The specific line it is on (the requested one, or the one the gateway picked for a
        /// wildcard).
        line: LineId,
        /// The handle from the command.
        call: CallId,
        /// The gateway's side of the media: where Offhook sends RTP to.
        local: Media,
    },
    /// A connection was modified as asked.
    ConnectionModified {
        /// Which line.
        line: LineId,
        /// Which connection.
        call: CallId,
    },
    /// A connection was deleted as asked.
    ConnectionDeleted {
        /// Which line.
        line: LineId,
        /// Which connection.
        call: CallId,
    },
    /// The gateway dropped a connection by itself (gateway-initiated delete, restart, or fault).
    ConnectionLost {
        /// Which line.
        line: LineId,
        /// Which connection.
        call: CallId,
        /// The gateway's reason, as text.
        reason: String,
    },
    /// A command failed for good (the gateway refused it or never answered).
    CommandFailed {
        /// Which line.
        line: LineId,
        /// The connection concerned, if the command was about one.
        call: Option<CallId>,
        /// The protocol's code (MGCP return code, H.248 error code), or 0 for a timeout.
        code: u16,
        /// Why, as text.
        reason: String,
    },
}

impl Event {
    /// The line the event is about; `None` for an event about a whole gateway.
    pub fn line(&self) -> Option<&LineId> {
        match self {
            Self::GatewayUp { .. } | Self::GatewayDown { .. } => None,
            Self::LineStatus { line, .. }
            | Self::OffHook { line }
            | Self::OnHook { line }
            | Self::HookFlash { line }
            | Self::Digit { line, .. }
            | Self::Dialled { line, .. }
            | Self::IncomingCall { line, .. }
            | Self::DialComplete { line }
            | Self::FarEndAnswer { line }
            | Self::FarEndDisconnect { line, .. }
            | Self::ConnectionCreated { line, .. }
            | Self::ConnectionModified { line, .. }
            | Self::ConnectionDeleted { line, .. }
            | Self::ConnectionLost { line, .. }
            | Self::CommandFailed { line, .. } => Some(line),
        }
    }

    /// The connection the event is about: the four connection events, and a failed command
    /// that was about one.
    pub fn call(&self) -> Option<CallId> {
        match self {
            Self::ConnectionCreated { call, .. }
            | Self::ConnectionModified { call, .. }
            | Self::ConnectionDeleted { call, .. }
            | Self::ConnectionLost { call, .. } => Some(*call),
            Self::CommandFailed { call, .. } => *call,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_line_and_connection() {
        let line = LineId::new(GatewayId::new("gw1"), "aaln/3");
        let up = Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        };
        assert_eq!((up.line(), up.call()), (None, None));
        let ring = Event::IncomingCall {
            line: line.clone(),
            caller_id: None,
        };
        assert_eq!((ring.line(), ring.call()), (Some(&line), None));
        let lost = Event::ConnectionLost {
            line: line.clone(),
            call: CallId(7),
            reason: String::new(),
        };
        assert_eq!((lost.line(), lost.call()), (Some(&line), Some(CallId(7))));
        let failed = |call| Event::CommandFailed {
            line: line.clone(),
            call,
            code: 501,
            reason: String::new(),
        };
        assert_eq!(failed(None).call(), None);
        assert_eq!(failed(Some(CallId(9))).call(), Some(CallId(9)));
    }

    #[test]
    fn codecs_name_their_payload_type_and_rtp_clock() {
        let opus = Codec::Opus { payload_type: 111 };
        let table = [
            (Codec::Pcmu, 0, "PCMU", 8000, true),
            (Codec::Pcma, 8, "PCMA", 8000, true),
            (opus, 111, "opus", 48_000, false),
        ];
        for (codec, pt, name, clock, g711) in table {
            assert_eq!(codec.payload_type(), pt);
            assert_eq!(codec.name(), name);
            assert_eq!(codec.clock_rate(), clock);
            assert_eq!(codec.is_g711(), g711);
        }
        assert_ne!(
            opus,
            Codec::Opus { payload_type: 96 },
            "the payload type is part of it"
        );
    }
}
