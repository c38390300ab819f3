//! The simulator's stdin commands (one a line) and what the core is given for each.

use std::path::PathBuf;

use super::fxo::{MAX_CALLER_ID, TrunkCommand};

/// The longest stdin line accepted.
pub const MAX_INPUT_LINE: usize = 4096;
/// The most keys one `digits` command may press.
pub const MAX_DIGITS: usize = 64;

/// A line command for the core, [`Simulator::handle_line`](crate::Simulator::handle_line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    /// Take line N off-hook.
    OffHook(u16),
    /// Put line N on-hook.
    OnHook(u16),
    /// Press these keys (`0`–`9`, `*`, `#`, `A`–`D`) on line N, which must be off-hook.
    Digits(u16, String),
    /// Flash the hook switch of line N.
    Flash(u16),
    /// Pick up by itself, after [`Config::autoanswer_delay`](crate::Config::autoanswer_delay), whenever line N rings.
    AutoAnswer(u16, bool),
    /// Send this audio (8 kHz mono PCM) on line N's sending connection, paced in real time.
    Say {
        /// The line.
        line: u16,
        /// The audio, at most [`MAX_SAY_SAMPLES`](crate::MAX_SAY_SAMPLES).
        samples: Vec<i16>,
    },
    /// Start (`on`) or stop delivering the audio line N receives, as [`Output::Audio`](crate::Output::Audio).
    Hear {
        /// The line.
        line: u16,
        /// Start or stop.
        on: bool,
    },
}

impl LineCommand {
    /// The line concerned.
    pub fn line(&self) -> u16 {
        match self {
            Self::OffHook(n)
            | Self::OnHook(n)
            | Self::Digits(n, _)
            | Self::Flash(n)
            | Self::AutoAnswer(n, _)
            | Self::Say { line: n, .. }
            | Self::Hear { line: n, .. } => *n,
        }
    }
}

/// One stdin line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A command the core executes as is.
    Line(LineCommand),
    /// `say N FILE.wav`: the driver reads and converts the file, then gives the core a
    /// [`LineCommand::Say`].
    Say {
        /// The line.
        line: u16,
        /// The WAV file.
        file: PathBuf,
    },
    /// `hear N FILE.wav` (start saving) or `hear N off` (stop).
    Hear {
        /// The line.
        line: u16,
        /// Where to save, or `None` to stop.
        file: Option<PathBuf>,
    },
    /// `busy N` or `ring N [NUMBER]`: the simulated PBX's side of an FXO port
    /// ([`Simulator::handle_trunk`](crate::Simulator::handle_trunk)).
    Trunk(TrunkCommand),
    /// `quit`.
    Quit,
    /// An empty line or a `#` comment.
    Nothing,
}

/// Why a stdin line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Longer than [`MAX_INPUT_LINE`].
    #[error("line too long")]
    TooLong,
    /// Not one of the commands.
    #[error(
        "unknown command {0:?}; expected offhook, onhook, digits, flash, say, hear, autoanswer, busy, ring or quit"
    )]
    Unknown(String),
    /// Missing or bad argument.
    #[error("{0}")]
    Usage(&'static str),
}

fn line_number(word: Option<&str>) -> Result<u16, InputError> {
    word.and_then(|w| w.parse::<u16>().ok())
        .filter(|&n| n > 0)
        .ok_or(InputError::Usage("expected a line number from 1"))
}

impl Input {
    /// Parses one stdin line.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        if text.len() > MAX_INPUT_LINE {
            return Err(InputError::TooLong);
        }
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(Self::Nothing);
        }
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_lowercase();
        if verb == "quit" || verb == "exit" {
            return Ok(Self::Quit);
        }
        let n = line_number(words.next());
        let rest: Vec<&str> = words.collect();
        let only_line = |cmd: fn(u16) -> LineCommand| -> Result<Self, InputError> {
            if !rest.is_empty() {
                return Err(InputError::Usage("this command takes only a line number"));
            }
            Ok(Self::Line(cmd(n.clone()?)))
        };
        match verb.as_str() {
            "offhook" => only_line(LineCommand::OffHook),
            "onhook" => only_line(LineCommand::OnHook),
            "busy" => {
                if !rest.is_empty() {
                    return Err(InputError::Usage("busy N"));
                }
                Ok(Self::Trunk(TrunkCommand::Busy(n?)))
            }
            "ring" => {
                let line = n?;
                let caller_id = match rest[..] {
                    [] => None,
                    [number]
                        if !number.is_empty()
                            && number.len() <= MAX_CALLER_ID
                            && number.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        Some(number.to_owned())
                    }
                    _ => {
                        return Err(InputError::Usage(
                            "ring N [NUMBER]: a caller id of 1 to 20 digits",
                        ));
                    }
                };
                Ok(Self::Trunk(TrunkCommand::Ring { line, caller_id }))
            }
            "flash" => only_line(LineCommand::Flash),
            "digits" => {
                let n = n?;
                let keys: String = rest.concat();
                if keys.is_empty() || keys.len() > MAX_DIGITS {
                    return Err(InputError::Usage("digits N KEYS: 1 to 64 keys"));
                }
                if !keys.chars().all(|c| key_index(c).is_some()) {
                    return Err(InputError::Usage("keys are 0-9, *, #, A-D"));
                }
                Ok(Self::Line(LineCommand::Digits(
                    n,
                    keys.to_ascii_uppercase(),
                )))
            }
            "autoanswer" => {
                let n = n?;
                match rest[..] {
                    ["on"] => Ok(Self::Line(LineCommand::AutoAnswer(n, true))),
                    ["off"] => Ok(Self::Line(LineCommand::AutoAnswer(n, false))),
                    _ => Err(InputError::Usage("autoanswer N on|off")),
                }
            }
            "say" => {
                let n = n?;
                if rest.is_empty() {
                    return Err(InputError::Usage("say N FILE.wav"));
                }
                Ok(Self::Say {
                    line: n,
                    file: PathBuf::from(rest.join(" ")),
                })
            }
            "hear" => {
                let n = n?;
                match rest[..] {
                    [] => Err(InputError::Usage("hear N FILE.wav, or hear N off")),
                    ["off"] => Ok(Self::Hear {
                        line: n,
                        file: None,
                    }),
                    _ => Ok(Self::Hear {
                        line: n,
                        file: Some(PathBuf::from(rest.join(" "))),
                    }),
                }
            }
            _ => Err(InputError::Unknown(verb)),
        }
    }
}

/// Bit index of a DTMF key: `0`–`9`, `*` 10, `#` 11, `A`–`D` 12–15.
pub(crate) fn key_index(c: char) -> Option<u32> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u32 - '0' as u32),
        '*' => Some(10),
        '#' => Some(11),
        l @ 'A'..='D' => Some(12 + (l as u32 - 'A' as u32)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        let p = |s: &str| Input::parse(s).unwrap();
        assert_eq!(p("offhook 1"), Input::Line(LineCommand::OffHook(1)));
        assert_eq!(p("  ONHOOK 2 "), Input::Line(LineCommand::OnHook(2)));
        assert_eq!(
            p("digits 3 12 3#"),
            Input::Line(LineCommand::Digits(3, "123#".into()))
        );
        assert_eq!(p("flash 1"), Input::Line(LineCommand::Flash(1)));
        assert_eq!(
            p("autoanswer 4 on"),
            Input::Line(LineCommand::AutoAnswer(4, true))
        );
        assert_eq!(
            p("say 1 /tmp/a b.wav"),
            Input::Say {
                line: 1,
                file: "/tmp/a b.wav".into()
            }
        );
        assert_eq!(
            p("hear 2 off"),
            Input::Hear {
                line: 2,
                file: None
            }
        );
        assert_eq!(p("busy 3"), Input::Trunk(TrunkCommand::Busy(3)));
        assert_eq!(
            p("ring 4 2041"),
            Input::Trunk(TrunkCommand::Ring {
                line: 4,
                caller_id: Some("2041".into())
            })
        );
        assert_eq!(
            p("ring 4"),
            Input::Trunk(TrunkCommand::Ring {
                line: 4,
                caller_id: None
            })
        );
        assert_eq!(p("quit"), Input::Quit);
        assert_eq!(p("# comment"), Input::Nothing);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Input::parse("dance 1"),
            Err(InputError::Unknown(_))
        ));
        assert!(Input::parse("offhook").is_err());
        assert!(Input::parse("offhook 0").is_err());
        assert!(Input::parse("offhook 1 2").is_err());
        assert!(Input::parse("digits 1 12x").is_err());
        assert!(Input::parse("autoanswer 1 maybe").is_err());
        assert!(Input::parse("busy 3 now").is_err());
        assert!(Input::parse("ring 3 20x1").is_err());
        assert!(Input::parse("ring 3 1 2").is_err());
        assert!(Input::parse(&format!("ring 3 {}", "1".repeat(MAX_CALLER_ID + 1))).is_err());
        assert!(Input::parse(&format!("ring 3 {}", "1".repeat(MAX_CALLER_ID))).is_ok());
        assert_eq!(
            Input::parse(&"x".repeat(MAX_INPUT_LINE + 1)),
            Err(InputError::TooLong)
        );
    }
}
