//! Which lines of a simulated gateway are FXO ports, and what supervision their PBX gives
//! (`--fxo 3-4`, `--fxo-supervision full|none`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The highest line number a range may name (the simulators' own limits are lower).
pub const MAX_FXO_LINE: u16 = 4096;
/// The most comma-separated parts a range list may have.
pub const MAX_FXO_RANGES: usize = 64;

/// A bad `--fxo` range list or supervision name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FxoError {
    /// Not `N`, `N-M` or a comma-separated list of them, lines from 1 to [`MAX_FXO_LINE`].
    #[error(
        "bad FXO line range {0:?}: expected N, N-M or a list such as 3-4,7 (lines 1-{MAX_FXO_LINE})"
    )]
    Range(String),
    /// More than [`MAX_FXO_RANGES`] parts.
    #[error("at most {MAX_FXO_RANGES} FXO ranges")]
    TooManyRanges,
    /// Not `full` or `none`.
    #[error("FXO supervision is full or none, not {0:?}")]
    Supervision(String),
}

/// What line-side supervision the simulated PBX gives its trunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Supervision {
    /// Answer by polarity (battery) reversal and far-end disconnect by a loop-current drop
    /// (calling party control, CPC), as most PBX trunks and exchanges offer on request.
    #[default]
    Full,
    /// Neither: the answer is only heard (the far phone's voice) and, after the far end hangs
    /// up, the PBX plays reorder tone down the line.
    None,
}

impl FromStr for Supervision {
    type Err = FxoError;

    fn from_str(s: &str) -> Result<Self, FxoError> {
        match s {
            "full" => Ok(Self::Full),
            "none" => Ok(Self::None),
            other => Err(FxoError::Supervision(other.to_owned())),
        }
    }
}

impl fmt::Display for Supervision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::None => "none",
        })
    }
}

/// The FXO ports of a simulated gateway: every other line stays an FXS line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FxoConfig {
    lines: BTreeSet<u16>,
    supervision: Supervision,
}

impl FxoConfig {
    /// No FXO ports, full supervision.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the lines of `ranges` (`3-4`, `3`, `3-4,7`) FXO ports, in addition to any
    /// already named.
    pub fn lines(&mut self, ranges: &str) -> Result<&mut Self, FxoError> {
        let parts: Vec<&str> = ranges.split(',').map(str::trim).collect();
        if parts.len() > MAX_FXO_RANGES {
            return Err(FxoError::TooManyRanges);
        }
        let bad = || FxoError::Range(ranges.to_owned());
        let number = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_FXO_LINE).contains(n))
        };
        let mut add = BTreeSet::new();
        for part in parts {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?),
                None => {
                    let n = number(part).ok_or_else(bad)?;
                    (n, n)
                }
            };
            if first > last {
                return Err(bad());
            }
            add.extend(first..=last);
        }
        self.lines.extend(add);
        Ok(self)
    }

    /// The supervision the PBX gives ([`Supervision::Full`]).
    pub fn supervision(&mut self, s: Supervision) -> &mut Self {
        self.supervision = s;
        self
    }

    /// Whether line `n` is an FXO port.
    pub fn is_fxo(&self, n: u16) -> bool {
        self.lines.contains(&n)
    }

    /// The FXO lines, in order.
    pub fn fxo_lines(&self) -> impl Iterator<Item = u16> + '_ {
        self.lines.iter().copied()
    }

    /// The highest FXO line, to check against the gateway's line count.
    pub fn highest(&self) -> Option<u16> {
        self.lines.last().copied()
    }

    /// The supervision in effect.
    pub fn supervision_mode(&self) -> Supervision {
        self.supervision
    }
}
