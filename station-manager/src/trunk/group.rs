//! Trunk groups as configured (`[[trunk]]`), the virtual lines of the phones behind them, and
//! the numbers they dial.

use std::fmt;
use std::time::Duration;

use gateway_control::model::{DialMethod, Digit, GatewayId, LineId};

use super::{MAX_NUMBER, MAX_PORTS, STATION_PREFIX};

/// The virtual line of a phone behind trunk `trunk` reached by dialling `number`.
pub fn station_line(trunk: &str, number: &str) -> LineId {
    LineId::new(GatewayId::new(&format!("{STATION_PREFIX}{trunk}")), number)
}

/// How a group picks the port for a call it places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Selection {
    /// The first free port, in the configured order.
    #[default]
    FirstFree,
    /// The next free port after the one used last.
    RoundRobin,
}

/// A trunk group as configured (`[[trunk]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkGroup {
    pub(super) name: String,
    pub(super) ports: Vec<LineId>,
    pub(super) selection: Selection,
    pub(super) dial_in: bool,
    pub(super) method: DialMethod,
    pub(super) answer_timeout: Duration,
}

/// How long a call placed waits for an answer by default.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A trunk group that cannot be used (API misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrunkError {
    /// A group needs a name.
    #[error("a trunk needs a name")]
    NoName,
    /// A group needs 1 to [`MAX_PORTS`] ports.
    #[error("trunk {0:?} needs 1 to {MAX_PORTS} ports")]
    Ports(String),
    /// All ports of a group are on one gateway.
    #[error("the ports of trunk {0:?} are on more than one gateway")]
    Gateways(String),
    /// A port is in two groups, or twice in one.
    #[error("port {0} is in more than one trunk")]
    PortTwice(LineId),
    /// Two groups have one name.
    #[error("trunk {0:?} is defined twice")]
    NameTwice(String),
    /// A number to dial holds something other than `0`–`9`, `*`, `#`, or is too long.
    #[error("{0:?} is not a number to dial (0-9, * and #, at most {MAX_NUMBER})")]
    Number(String),
    /// The answer timeout must be positive.
    #[error("a trunk's answer timeout must be positive")]
    AnswerTimeout,
    /// A station names a trunk that does not exist.
    #[error("no trunk is named {0:?}")]
    Unknown(String),
}

impl TrunkGroup {
    /// A group of `ports` (FXO endpoints of one gateway), first-free, DTMF, no dial-in.
    pub fn new(name: &str, ports: Vec<LineId>) -> Result<Self, TrunkError> {
        if name.is_empty() {
            return Err(TrunkError::NoName);
        }
        if ports.is_empty() || ports.len() > MAX_PORTS {
            return Err(TrunkError::Ports(name.to_owned()));
        }
        if ports.iter().any(|p| p.gateway != ports[0].gateway) {
            return Err(TrunkError::Gateways(name.to_owned()));
        }
        for (i, p) in ports.iter().enumerate() {
            if ports[..i].contains(p) {
                return Err(TrunkError::PortTwice(p.clone()));
            }
        }
        Ok(Self {
            name: name.to_owned(),
            ports,
            selection: Selection::FirstFree,
            dial_in: false,
            method: DialMethod::Dtmf,
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// How long a call placed waits for an answer (from the seize) before it is given up as
    /// unanswered; the station's own ring timeout may end it sooner. Zero is refused.
    pub fn answer_timeout(mut self, d: Duration) -> Result<Self, TrunkError> {
        if d.is_zero() {
            return Err(TrunkError::AnswerTimeout);
        }
        self.answer_timeout = d;
        Ok(self)
    }

    /// How ports are picked.
    pub fn selection(mut self, s: Selection) -> Self {
        self.selection = s;
        self
    }

    /// Whether incoming calls are answered for dial-in.
    pub fn dial_in(mut self, on: bool) -> Self {
        self.dial_in = on;
        self
    }

    /// DTMF or pulse dialling.
    pub fn method(mut self, m: DialMethod) -> Self {
        self.method = m;
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The gateway its ports are on.
    pub fn gateway(&self) -> Option<&GatewayId> {
        self.ports.first().map(|p| &p.gateway)
    }
}

/// A number to dial, as keys.
pub(crate) fn parse_number(number: &str) -> Result<Vec<Digit>, TrunkError> {
    let bad = || TrunkError::Number(number.to_owned());
    if number.is_empty() || number.len() > MAX_NUMBER {
        return Err(bad());
    }
    number
        .chars()
        .map(|c| match c {
            '0'..='9' | '*' | '#' => Digit::new(c).ok_or_else(bad),
            _ => Err(bad()),
        })
        .collect()
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FirstFree => "first-free",
            Self::RoundRobin => "round-robin",
        })
    }
}
