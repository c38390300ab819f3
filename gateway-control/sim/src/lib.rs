//! Offhook's analog media-gateway simulator (`offhook gateway-sim`, `offhook demo`): a gateway
//! with N analog lines that plays the peer of a [`gateway_control::Controller`], as str0m's
//! `netem` or rustls's `bogo` shim play theirs.
//!
//! It is split like the gateways it imitates:
//! - [`analog`], the protocol-free analog-line core: the stdin command language, the ring
//!   cadence, RTP connections that say and hear G.711 audio, and the JSON output lines;
//! - one module per protocol side: [`mgcp`] (RFC 3435, with vendor profiles for Cisco IOS and
//!   PacketCable NCS, [`mgcp::Profile`]), [`megaco`] (H.248.1, [`megaco::Mg`]) and [`tpncp`]
//!   (an AudioCodes FXS board driven by a host, [`tpncp::Board`]);
//! - the [`Simulator`] trait, which each protocol side implements: the same sans-IO loop as
//!   [`gateway_control::Controller`], seen from the gateway;
//! - [`run`] and [`run_with`] (feature `driver`), the tokio driver on sockets, stdin and stdout.
//!
//! # Line commands (stdin, one a line)
//! `offhook N`, `onhook N`, `digits N 123#`, `flash N`, `say N FILE.wav` (WAV of any rate and
//! channel count, resampled to 8 kHz mono and sent as 20 ms G.711 RTP in the connection's codec,
//! paced in real time), `hear N FILE.wav` (save what line N receives, decoded, as 8 kHz 16-bit
//! WAV until its connection is deleted or `hear N off`), `autoanswer N on|off` (pick up
//! [`Config::autoanswer_delay`] after ringing starts), `quit`. Empty lines and `#` comments are
//! ignored.
//!
//! # FXO ports
//! Lines named in an [`FxoConfig`] (`--fxo 3-4`) face a simulated PBX ([`analog::fxo`]):
//! there `offhook N` is the far phone answering the call the controller dialled, `onhook N`
//! the far end (or an incoming caller) hanging up, `digits N …` the far party's keys,
//! `autoanswer N on` the far phone answering by itself, and two commands of their own,
//! `busy N` (the number dialled is busy: busy tone on the connection) and `ring N [NUMBER]`
//! (an incoming call with that caller id). [`Supervision`] says whether the PBX signals
//! answer and disconnect (polarity reversal, loop-current drop) or only plays reorder.
//!
//! # Output (stdout, one JSON object a line)
//! | line | when |
//! | --- | --- |
//! | `{"event":"rsip","method":"restart","acknowledged":true,"code":200}` | the restart was answered (`false` and no `code` when it timed out) |
//! | `{"line":1,"event":"rsip","method":"disconnected","acknowledged":true,"code":200}` | a line whose NTFY went unanswered announced itself again (§4.4.7) |
//! | `{"event":"keepalive","code":200}` (`"timeout":true` when unanswered) | a keep-alive `NTFY *@…` was answered ([`mgcp::Profile::Cisco`], [`Config::keepalive`]) |
//! | `{"line":1,"event":"offhook"}` / `"onhook"` (+ `"auto":true` for autoanswer) | hook change |
//! | `{"line":1,"event":"flash"}`, `{"line":1,"event":"digit","digit":"5"}` | key presses |
//! | `{"line":1,"event":"command","verb":"RQNT","transaction":12,"code":200}` | a call-agent command and our answer (`line` absent for the whole gateway) |
//! | `{"line":1,"event":"command","verb":"acCMD_OPEN_CHANNEL","seq":12,"code":0}` | TPNCP: a host command, its sequence number, 0 or the `acEV_ERROR` code ([`tpncp::ErrorCode`]) |
//! | `{"event":"connected","peer":"127.0.0.1:40512"}` | TPNCP: the host connected (TCP), or a UDP sender became the host |
//! | `{"event":"disconnected","peer":"…"}` (+ `"reason":"replaced"`, `"framing: …"`, `"i/o: …"`) | TPNCP: the host's connection ended (no reason: the host closed it) |
//! | `{"event":"refused","peer":"…","reason":"not the controller"}` | TPNCP: a connection from another address |
//! | `{"line":1,"event":"notify","request":"A1","observed":["L/hd"]}` | a NTFY sent |
//! | `{"line":1,"signal":"L/rg"}` (+ `"params":"to=6000"`) | a signal applied |
//! | `{"line":1,"signal":"L/rg","stopped":true,"reason":"hook"}` | reasons `timeout`, `hook`, `event`, `replaced` |
//! | `{"line":1,"event":"ringing","on":true}` | the bell, each cadence step |
//! | `{"line":1,"event":"connection","action":"created","id":"1F","call":"A3","mode":"sendrecv","codec":"PCMU","local":"127.0.0.1:16384","remote":"127.0.0.1:16400"}` | `created`, `modified`, `deleted`; `remote` absent until known |
//! | `{"line":1,"event":"say_done","file":"a.wav","packets":50}` (+ `"complete":false`) | a `say` ended |
//! | `{"line":1,"event":"hear_done","file":"b.wav","ms":1000}` | a `hear` ended |
//! | `{"line":3,"event":"dialed","number":"2041"}` | FXO port: the controller dialled this number (the far phone now rings) |
//! | `{"line":3,"event":"answered"}` | FXO port: the controller answered the incoming call (`ring`) |
//! | `{"error":"…"}` (+ `"line":N`) | a command failed |
//!
//! # Driving it
//! [`mgcp::Gateway`] and [`megaco::Mg`] are the sans-IO cores (no tokio, usable in virtual
//! time; the `gateway-harness` crate pairs either with its controller over a seeded lossy
//! link); [`run`] and [`megaco::run`] (feature `driver`) put them on sockets, stdin and stdout.
//! The MEGACO side prints the same lines: `rsip` is its ServiceChange (`method` `restart`,
//! `disconnected` or `handoff`, `code` 200 or the H.248.8 error), `command` verbs are H.248's
//! (`Add`, `Modify`…, `code` 200 or the error), `notify` has the RequestID and the observed
//! events (`al/of`, `dd/ce{ds="12F",Meth=UM}`), signals are `al/ri`, `cg/dt`…, and a
//! connection's `id` is its RTP termination (`rtp/1`), its `call` the context.
//!
//! The TPNCP side ([`tpncp::Board`], [`tpncp::run`]) listens for its host on TCP and UDP
//! (2424) instead of registering, and prints `connected`/`disconnected` for the host, `command`
//! lines with the host's `seq` and `code` 0 or the error sent, signals `ring` (`params`: the
//! distinctive `pattern=N`, caller id `number=…` `name=…`), the tones `dial`, `ringback`,
//! `busy`, `reorder`, `confirmation`, `call_waiting`, `stutter_dial` (`params`
//! `duration=MS` when timed), `lamp`, and `hookflash`/`offhook`/`onhook` for analog signals;
//! no `notify` lines (events go to the host as they happen). A connection is the channel's
//! RTP from `acCMD_ACTIVATE_RTP_RTCP` to its deactivation or the channel's close: its `id` is
//! the channel (`0` for line 1), its `call` `-`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

pub mod analog;
pub mod megaco;
pub mod mgcp;
pub mod tpncp;

#[cfg(feature = "driver")]
mod driver;

pub use analog::{
    ConnectionAction, FxoConfig, Input, InputError, LineCommand, MAX_DIGITS, MAX_INPUT_LINE,
    MAX_SAY_SAMPLES, Output, StopReason, Supervision, TrunkCommand, error_line, file_done,
    say_done,
};
#[cfg(feature = "driver")]
pub use driver::{DriverConfig, Stdout, run, run_with};
pub use mgcp::{Config, ConfigError, Gateway, MAX_LINES, Profile, Stats};

/// Which of the gateway's sockets a datagram leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The control socket (the protocol's: MGCP on 2427).
    Control,
    /// The RTP socket bound to this local port (one per connection, from
    /// [`mgcp::Gateway::add_rtp_port`]).
    Rtp(u16),
}

/// A datagram the gateway wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// From which socket.
    pub via: Via,
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// The sans-IO interface of a simulated gateway, one implementation per protocol side: the
/// mirror of [`gateway_control::Controller`], seen from the gateway.
///
/// The driver's loop, in quinn's order:
/// 1. feed whatever happened: [`handle_datagram`](Self::handle_datagram) for each datagram
///    received on the control socket or a connection's RTP socket,
///    [`handle_line`](Self::handle_line) for each line command (the phone's side: hook, keys,
///    audio), and [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
///    has passed;
/// 2. drain [`poll_transmit`](Self::poll_transmit) and send each datagram from its [`Via`];
/// 3. drain [`poll_output`](Self::poll_output) and report each [`Output`];
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) or the next input.
///
/// `now` is always supplied by the caller; simulators never read a clock.
pub trait Simulator {
    /// A datagram arrived from `from` on the socket `via`.
    fn handle_datagram(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]);
    /// The operator (or a test) acts on a line.
    fn handle_line(&mut self, now: Instant, command: LineCommand);
    /// The operator (or a test) plays the PBX on an FXO port (`busy N`, `ring N [NUMBER]`).
    /// Returns false when this side has no FXO ports at all (the default), and the driver
    /// then prints the error; a side with FXO ports reports its own errors (a line that is
    /// not FXO, a port in the wrong state) as [`Output::Error`] and returns true.
    fn handle_trunk(&mut self, now: Instant, command: TrunkCommand) -> bool {
        let _ = (now, command);
        false
    }
    /// The instant returned by [`poll_timeout`](Self::poll_timeout) has been reached.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next thing to report, if any.
    fn poll_output(&mut self) -> Option<Output>;
    /// When the simulator next needs [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Instant>;
}
