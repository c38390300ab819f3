//! The simulated MEGACO gateway's settings.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use gateway_control::megaco::text;
use gateway_control::megaco::transaction;
use gateway_control::megaco::{Body, Message, MessageId};

/// The most lines one simulated gateway has (as for MGCP).
pub use crate::mgcp::MAX_LINES;

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Lines must be 1 to [`MAX_LINES`].
    #[error("lines must be 1 to {MAX_LINES}")]
    Lines,
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// Not an mId of H.248.1 Annex B: `[IP]:port`, `<domain>:port` or a device name.
    #[error("bad mId {0:?}: expected [IP]:port, <domain>:port or a device name such as mg1")]
    Mid(String),
}

/// How MEGACO messages travel (H.248.1 Annex D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// Annex D.1: datagrams, retransmitted until answered.
    #[default]
    Udp,
    /// Annex D.2: one TCP connection to the controller, each message in a TPKT.
    Tcp,
}

impl Transport {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// The encoding of the messages the gateway starts (replies take the request's): pretty or
/// compact text, or binary (BER), in which terminations get bit-string ids.
pub use gateway_control::megaco::encoding::Encoding;

/// The simulated MEGACO gateway's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) lines: u16,
    pub(crate) controller: SocketAddr,
    /// The mId set with [`Config::mid`] (validated); `None`: `[media address]:local port`.
    pub(crate) mid: Option<String>,
    /// The control port, for `ServiceChangeAddress` and the default mId.
    pub(crate) local_port: Option<u16>,
    pub(crate) transport: Transport,
    pub(crate) encoding: Encoding,
    pub(crate) media_address: IpAddr,
    pub(crate) seed: u64,
    pub(crate) ring_on: Duration,
    pub(crate) ring_off: Duration,
    pub(crate) ring_timeout: Duration,
    pub(crate) tone_timeout: Duration,
    pub(crate) autoanswer_delay: Duration,
    pub(crate) short_timer: Duration,
    pub(crate) long_timer: Duration,
    pub(crate) restart_retry: Duration,
    pub(crate) controller_silence: Option<Duration>,
    pub(crate) max_connections: usize,
    pub(crate) transactions: transaction::Config,
    pub(crate) fxo: crate::FxoConfig,
}

impl Config {
    /// `lines` lines talking to the controller at `controller`, over UDP in pretty text.
    pub fn new(lines: u16, controller: SocketAddr) -> Result<Self, ConfigError> {
        let mut c = Self {
            lines: 1,
            controller,
            mid: None,
            local_port: None,
            transport: Transport::Udp,
            encoding: Encoding::Pretty,
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            seed: 0,
            ring_on: Duration::from_secs(2),
            ring_off: Duration::from_secs(4),
            ring_timeout: Duration::from_secs(180),
            tone_timeout: Duration::from_secs(30),
            autoanswer_delay: Duration::from_secs(1),
            short_timer: Duration::from_secs(4),
            long_timer: Duration::from_secs(16),
            restart_retry: Duration::from_secs(5),
            controller_silence: Some(Duration::from_secs(200)),
            max_connections: 2,
            transactions: transaction::Config::default(),
            fxo: crate::FxoConfig::new(),
        };
        c.lines(lines)?;
        Ok(c)
    }

    /// Number of lines, 1 to [`MAX_LINES`]: terminations `aaln/1`…`aaln/N`.
    pub fn lines(&mut self, n: u16) -> Result<&mut Self, ConfigError> {
        if !(1..=MAX_LINES).contains(&n) {
            return Err(ConfigError::Lines);
        }
        self.lines = n;
        Ok(self)
    }

    /// The gateway's mId in the header of every message (`mg1`, `[192.0.2.1]:2944`,
    /// `<mg1.example.net>:2944`). Unset, it is `[media address]:control port`.
    pub fn mid(&mut self, mid: &str) -> Result<&mut Self, ConfigError> {
        if !mid_is_valid(mid) {
            return Err(ConfigError::Mid(mid.to_owned()));
        }
        self.mid = Some(mid.to_owned());
        Ok(self)
    }

    /// The gateway's own control port: announced as `ServiceChangeAddress` and part of the
    /// default mId.
    pub fn local_port(&mut self, port: u16) -> &mut Self {
        self.local_port = Some(port);
        self
    }

    /// UDP (retransmitted) or TCP (reliable: only the overall timeout).
    pub fn transport(&mut self, t: Transport) -> &mut Self {
        self.transport = t;
        self
    }

    /// The encoding of the messages the gateway starts (ServiceChange, Notify). With
    /// [`Encoding::Binary`] the terminations have the bit-string ids Annex A can carry, as
    /// Erlang/OTP's binary term ids: lines `00000000/HHHHHHHH/LLLLLLLL` and RTP terminations
    /// `00000001/HHHHHHHH/LLLLLLLL` (the number's high and low octets).
    pub fn encoding(&mut self, e: Encoding) -> &mut Self {
        self.encoding = e;
        self
    }

    /// The address put in local session descriptions (where the controller sends RTP).
    pub fn media_address(&mut self, ip: IpAddr) -> &mut Self {
        self.media_address = ip;
        self
    }

    /// The lines that are FXO ports facing the simulated PBX (`--fxo 3-4`), and the PBX's
    /// supervision; the rest stay station lines. Lines beyond [`Config::lines`] are ignored.
    pub fn fxo(&mut self, fxo: crate::FxoConfig) -> &mut Self {
        self.fxo = fxo;
        self
    }

    /// Seeds transaction ids, context numbers, SSRCs, sequence numbers and timestamps.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The ring cadence of `al/ri`: bell on, then off (2 s / 4 s).
    pub fn ring_cadence(&mut self, on: Duration, off: Duration) -> Result<&mut Self, ConfigError> {
        if on.is_zero() || off.is_zero() {
            return Err(ConfigError::Zero("ring cadence"));
        }
        self.ring_on = on;
        self.ring_off = off;
        Ok(self)
    }

    /// How long `al/ri` (a TimeOut signal) rings without a `Duration` (180 s).
    pub fn ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("ring timeout"));
        }
        self.ring_timeout = d;
        Ok(self)
    }

    /// How long the TimeOut tones `cg/dt`, `cg/bt`, `cg/ct` play without a `Duration` (30 s;
    /// ringback `cg/rt` uses the ring timeout).
    pub fn tone_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("tone timeout"));
        }
        self.tone_timeout = d;
        Ok(self)
    }

    /// How long autoanswer lets it ring before picking up (1 s).
    pub fn autoanswer_delay(&mut self, d: Duration) -> &mut Self {
        self.autoanswer_delay = d;
        self
    }

    /// The digit-map timers (H.248.1 §7.1.14) when the map sets none: short `S` (4 s), when a
    /// pattern is already matched and a longer one could be, and long `L` (16 s), while more
    /// digits are needed.
    pub fn digit_timers(
        &mut self,
        short: Duration,
        long: Duration,
    ) -> Result<&mut Self, ConfigError> {
        if short.is_zero() || long.is_zero() {
            return Err(ConfigError::Zero("digit timer"));
        }
        self.short_timer = short;
        self.long_timer = long;
        Ok(self)
    }

    /// How long after an unanswered or refused ServiceChange it is sent again (5 s).
    pub fn restart_retry(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("restart retry"));
        }
        self.restart_retry = d;
        Ok(self)
    }

    /// After this long without a word from the controller (its keep-alive audits come every
    /// 60 s) the gateway announces itself again with `Method = Disconnected`, as one does
    /// that lost its controller (H.248.1 §11.5). 200 s; zero turns it off.
    pub fn controller_silence(&mut self, d: Duration) -> &mut Self {
        self.controller_silence = (!d.is_zero()).then_some(d);
        self
    }

    /// RTP terminations per context (2).
    pub fn max_connections(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::Zero("max connections"));
        }
        self.max_connections = n;
        Ok(self)
    }

    /// Retransmission and duplicate-suppression settings.
    pub fn transactions(&mut self, t: transaction::Config) -> &mut Self {
        self.transactions = t;
        self
    }

    /// The lines.
    pub fn line_count(&self) -> u16 {
        self.lines
    }

    /// The controller's address.
    pub fn controller_address(&self) -> SocketAddr {
        self.controller
    }

    /// The mId in use, as written.
    pub fn mid_text(&self) -> String {
        match &self.mid {
            Some(m) => m.clone(),
            None => {
                let port = self.local_port.unwrap_or(2944);
                match self.media_address {
                    IpAddr::V4(a) => format!("[{a}]:{port}"),
                    IpAddr::V6(a) => format!("[{a}]:{port}"),
                }
            }
        }
    }
}

/// Whether `mid` reads as an Annex B mId: a message with it as header parses back to it.
fn mid_is_valid(mid: &str) -> bool {
    if mid.is_empty() || mid.len() > 128 || mid.contains(char::is_whitespace) {
        return false;
    }
    let text = format!("MEGACO/1 {mid}\nError = 400 {{}}\n");
    match text::parse(text.as_bytes()) {
        Ok(Message {
            body: Body::Error(_),
            mid: parsed,
            ..
        }) => mid_text(&parsed).eq_ignore_ascii_case(mid) && message_id(mid) == parsed,
        _ => false,
    }
}

/// The [`MessageId`] of an mId that [`mid_is_valid`] accepted (or the default one).
pub(crate) fn message_id(mid: &str) -> MessageId<'_> {
    let port = |rest: &str| rest.strip_prefix(':').and_then(|p| p.parse().ok());
    if let Some(rest) = mid.strip_prefix('[')
        && let Some((ip, rest)) = rest.split_once(']')
    {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => return MessageId::Ip4(a, port(rest)),
            Ok(IpAddr::V6(a)) => return MessageId::Ip6(a, port(rest)),
            Err(_) => {}
        }
    }
    if let Some(rest) = mid.strip_prefix('<')
        && let Some((name, rest)) = rest.split_once('>')
    {
        return MessageId::Domain(name, port(rest));
    }
    if let Some(code) = mid.strip_prefix("MTP{").and_then(|m| m.strip_suffix('}')) {
        return MessageId::Mtp(code);
    }
    MessageId::Device(mid)
}

/// An mId as the text encoder writes it.
fn mid_text(mid: &MessageId<'_>) -> String {
    let port = |p: &Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
    match mid {
        MessageId::Ip4(a, p) => format!("[{a}]{}", port(p)),
        MessageId::Ip6(a, p) => format!("[{a}]{}", port(p)),
        MessageId::Domain(d, p) => format!("<{d}>{}", port(p)),
        MessageId::Device(d) => (*d).to_owned(),
        MessageId::Mtp(m) => format!("MTP{{{m}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mids_are_checked_against_the_grammar() {
        let mut c = Config::new(2, "127.0.0.1:2944".parse().unwrap()).unwrap();
        for good in [
            "mg1",
            "[127.0.0.1]:2944",
            "<mg1.example.net>:2944",
            "[::1]:2945",
        ] {
            assert!(c.mid(good).is_ok(), "{good}");
            assert_eq!(c.mid_text(), good);
        }
        for bad in ["", "mg 1", "[127.0.0.1", "<x", "1.2.3.4:5"] {
            assert!(c.mid(bad).is_err(), "{bad}");
        }
        let mut d = Config::new(1, "127.0.0.1:2944".parse().unwrap()).unwrap();
        d.local_port(2946);
        assert_eq!(d.mid_text(), "[127.0.0.1]:2946");
        assert!(Config::new(0, "127.0.0.1:1".parse().unwrap()).is_err());
    }
}
