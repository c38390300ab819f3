//! Digit maps (RFC 3435 §2.1.5): the gateway collects dialled digits and notifies the call agent
//! once the dial string matches one of the map's patterns, so that a number is sent in one NTFY.
//! The call agent sends one with [`crate::model::Command::CollectDigits`]; the simulator
//! matches against it as a gateway does.
//!
//! A map is `(p1|p2|…)` or a single pattern. A pattern is a sequence of positions, each one of
//! a digit or letter (`0`–`9`, `*`, `#`, `A`–`D`), `x` (any of `0`–`9`), a range `[1-7#]`, or
//! the timer `T`; a position followed by `.` repeats zero or more times.
//!
//! Matching, after each digit and when the interdigit timer expires:
//! - some pattern matches the whole string and no pattern can match a longer one: complete;
//! - otherwise, if a pattern can still match with more digits, or match once the timer `T`
//!   expires: keep collecting, with the short timer when a `T` could end it and the long timer
//!   otherwise;
//! - no pattern can match: complete with what was collected (the call agent plays reorder).

use std::sync::Arc;

/// At most this many patterns in one map.
pub const MAX_PATTERNS: usize = 64;
/// At most this many positions in one pattern.
pub const MAX_POSITIONS: usize = 64;
/// The longest dial string collected; a longer one completes as a mismatch.
pub const MAX_DIGITS: usize = 64;

/// A malformed digit map, with the byte offset of the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigitMapError {
    /// A character that has no meaning in a digit map.
    #[error("unexpected character at byte {0}")]
    Unexpected(usize),
    /// A `[` without its `]`, or an empty range.
    #[error("bad range at byte {0}")]
    Range(usize),
    /// Too many patterns or positions, or an empty pattern.
    #[error("digit map too large or empty pattern at byte {0}")]
    Size(usize),
}

/// One position of a pattern: the set of keys it accepts (bit per key) or the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    /// Bits 0–9 for `0`–`9`, 10 `*`, 11 `#`, 12–15 `A`–`D`; 0 for the timer `T`.
    keys: u16,
    repeat: bool,
}

impl Position {
    fn is_timer(self) -> bool {
        self.keys == 0
    }
}

fn key_bit(c: char) -> Option<u16> {
    let i = match c.to_ascii_uppercase() {
        d @ '0'..='9' => d as u32 - '0' as u32,
        '*' => 10,
        '#' => 11,
        l @ 'A'..='D' => 12 + (l as u32 - 'A' as u32),
        _ => return None,
    };
    Some(1 << i)
}

/// At most this many bytes of text in one map.
pub const MAX_TEXT: usize = 2048;

/// A parsed digit map, with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitMap {
    patterns: Vec<Vec<Position>>,
    text: Arc<str>,
}

/// What the collected string amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchState {
    /// Complete: notify now (`matched` is false when no pattern can ever match).
    Complete {
        /// Whether a pattern matched, as opposed to a dead end.
        matched: bool,
    },
    /// Keep collecting; `short` selects the short (critical) interdigit timer, because a
    /// pattern would complete if the timer expired now.
    Partial {
        /// Short timer (a `T` could end it) rather than the long one.
        short: bool,
    },
}

impl DigitMap {
    /// Parses a map as it appears in a `D:` parameter.
    pub fn parse(text: &str) -> Result<Self, DigitMapError> {
        if text.len() > MAX_TEXT {
            return Err(DigitMapError::Size(MAX_TEXT));
        }
        let trimmed = text.trim();
        let (body, base) = match trimmed.strip_prefix('(') {
            Some(rest) => match rest.strip_suffix(')') {
                Some(b) => (b, text.len() - trimmed.len() + 1),
                None => return Err(DigitMapError::Unexpected(text.len())),
            },
            None => (trimmed, text.len() - trimmed.len()),
        };
        let mut patterns = Vec::new();
        let mut offset = base;
        for part in body.split('|') {
            if patterns.len() == MAX_PATTERNS {
                return Err(DigitMapError::Size(offset));
            }
            patterns.push(parse_pattern(part, offset)?);
            offset += part.len() + 1;
        }
        Ok(Self {
            patterns,
            text: Arc::from(trimmed),
        })
    }

    /// The map as written (without surrounding whitespace), for a `D:` parameter.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Matches a dial string (keys only, no `T`) as it stands; `timer_expired` says the
    /// interdigit timer ran out after the last key.
    pub fn check(&self, dialled: &str, timer_expired: bool) -> MatchState {
        let keys: Vec<u16> = dialled.chars().filter_map(key_bit).collect();
        let mut full = false;
        let mut longer = false;
        let mut with_timer = false;
        for p in &self.patterns {
            let r = match_pattern(p, &keys);
            full |= r.full;
            longer |= r.longer;
            with_timer |= r.with_timer;
        }
        if timer_expired {
            return MatchState::Complete {
                matched: full || with_timer,
            };
        }
        if keys.len() >= MAX_DIGITS {
            return MatchState::Complete { matched: full };
        }
        if full && !longer && !with_timer {
            return MatchState::Complete { matched: true };
        }
        if longer || with_timer || full {
            return MatchState::Partial {
                short: with_timer || full,
            };
        }
        MatchState::Complete { matched: false }
    }
}

fn parse_pattern(part: &str, base: usize) -> Result<Vec<Position>, DigitMapError> {
    let mut out: Vec<Position> = Vec::new();
    let mut chars = part.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = base + i;
        let keys = match c {
            ' ' | '\t' => continue,
            '.' => match out.last_mut() {
                Some(p) if !p.repeat => {
                    p.repeat = true;
                    continue;
                }
                _ => return Err(DigitMapError::Unexpected(at)),
            },
            'x' | 'X' => 0x3FF,
            'T' | 't' => 0,
            '[' => {
                let mut set = 0u16;
                let mut prev: Option<char> = None;
                let mut closed = false;
                while let Some((j, d)) = chars.next() {
                    match d {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '-' => {
                            let (Some(lo), Some(&(_, hi))) = (prev, chars.peek()) else {
                                return Err(DigitMapError::Range(base + j));
                            };
                            if !lo.is_ascii_digit() || !hi.is_ascii_digit() || hi < lo {
                                return Err(DigitMapError::Range(base + j));
                            }
                            chars.next();
                            for k in lo..=hi {
                                set |= key_bit(k).unwrap_or(0);
                            }
                            prev = None;
                        }
                        'x' | 'X' => set |= 0x3FF,
                        ' ' => {}
                        _ => {
                            set |= key_bit(d).ok_or(DigitMapError::Range(base + j))?;
                            prev = Some(d);
                        }
                    }
                }
                if !closed || set == 0 {
                    return Err(DigitMapError::Range(at));
                }
                set
            }
            _ => key_bit(c).ok_or(DigitMapError::Unexpected(at))?,
        };
        if out.len() == MAX_POSITIONS {
            return Err(DigitMapError::Size(at));
        }
        out.push(Position {
            keys,
            repeat: false,
        });
    }
    if out.is_empty() {
        return Err(DigitMapError::Size(base));
    }
    Ok(out)
}

#[derive(Debug, Default, Clone, Copy)]
struct PatternMatch {
    /// The whole string matches the whole pattern.
    full: bool,
    /// A longer string could match.
    longer: bool,
    /// The string matches if the timer expires now.
    with_timer: bool,
}

/// Simulates the pattern as an NFA over positions: `states[i]` means "positions before `i`
/// consumed". Timer positions are only crossed at the end, by `with_timer`.
fn match_pattern(p: &[Position], keys: &[u16]) -> PatternMatch {
    let n = p.len();
    // The set of reachable states, closed over skippable (repeated) positions.
    let closure = |set: &mut Vec<bool>| {
        for i in 0..n {
            if set[i] && p[i].repeat {
                set[i + 1] = true;
            }
        }
    };
    let mut states = vec![false; n + 1];
    states[0] = true;
    closure(&mut states);
    for &k in keys {
        let mut next = vec![false; n + 1];
        for i in 0..n {
            if states[i] && !p[i].is_timer() && p[i].keys & k != 0 {
                next[i + 1] = true;
                if p[i].repeat {
                    next[i] = true;
                }
            }
        }
        closure(&mut next);
        if !next.iter().any(|&s| s) {
            return PatternMatch::default();
        }
        states = next;
    }
    let mut r = PatternMatch {
        full: states[n],
        ..PatternMatch::default()
    };
    for i in 0..n {
        if !states[i] {
            continue;
        }
        if p[i].is_timer() {
            // Crossing the timer, the rest must be skippable.
            if p[i + 1..].iter().all(|q| q.repeat) {
                r.with_timer = true;
            }
        } else {
            r.longer = true;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)";

    fn check(map: &str, s: &str) -> MatchState {
        DigitMap::parse(map).unwrap().check(s, false)
    }

    #[test]
    fn rfc_example_map() {
        let complete = MatchState::Complete { matched: true };
        assert_eq!(check(MAP, "1234"), complete);
        assert_eq!(check(MAP, "123"), MatchState::Partial { short: false });
        assert_eq!(check(MAP, "*12"), complete);
        assert_eq!(check(MAP, "912345678901"), complete);
        // "0" could be 0T or 00T: short timer.
        assert_eq!(check(MAP, "0"), MatchState::Partial { short: true });
        assert_eq!(check(MAP, "00"), MatchState::Partial { short: true });
        assert_eq!(check(MAP, "000"), MatchState::Complete { matched: false });
        // 9011x.T: any length, ended by the timer.
        assert_eq!(check(MAP, "90114412"), MatchState::Partial { short: true });
        let m = DigitMap::parse(MAP).unwrap();
        assert_eq!(m.check("90114412", true), complete);
        assert_eq!(
            m.check("901", true),
            MatchState::Complete { matched: false }
        );
        assert_eq!(check(MAP, "A"), MatchState::Complete { matched: false });
    }

    #[test]
    fn full_match_that_could_grow_waits_for_the_short_timer() {
        // "12" matches, but "123" could too.
        assert_eq!(check("(12|123)", "12"), MatchState::Partial { short: true });
        assert_eq!(
            check("(12|123)", "123"),
            MatchState::Complete { matched: true }
        );
        assert_eq!(check("x.#", "555#"), MatchState::Complete { matched: true });
        assert_eq!(check("x.#", "555"), MatchState::Partial { short: false });
    }

    #[test]
    fn single_pattern_without_parentheses_and_ranges() {
        assert_eq!(check("[2-4#]x", "3"), MatchState::Partial { short: false });
        assert_eq!(
            check("[2-4#]x", "#9"),
            MatchState::Complete { matched: true }
        );
        assert_eq!(
            check("[2-4#]x", "5"),
            MatchState::Complete { matched: false }
        );
    }

    /// Spaces inside a pattern or a range are skipped; `x` inside a range is any digit; a
    /// repeated position may be skipped altogether (`x.#` matches `#`).
    #[test]
    fn spaces_ranges_and_repetition() {
        let complete = MatchState::Complete { matched: true };
        assert_eq!(check("1 2\t3", "123"), complete);
        assert_eq!(check("[1 3]", "3"), complete);
        assert_eq!(check("[x#]", "7"), complete);
        assert_eq!(check("[x#]", "#"), complete);
        assert_eq!(check("[x#]", "*"), MatchState::Complete { matched: false });
        assert_eq!(check("x.#", "#"), complete);
        assert_eq!(check("1x.", "1"), MatchState::Partial { short: true });
        // A position repeats once: `..` is an error at the second dot.
        assert_eq!(
            DigitMap::parse("(0|1..)"),
            Err(DigitMapError::Unexpected(5))
        );
    }

    /// Bad ranges, each with the offset of what is wrong in the whole map.
    #[test]
    fn bad_ranges_name_their_offset() {
        for (map, at) in [
            ("(1|[9-3])", 5),
            ("(1|[3-])", 5),
            ("(1|[-3])", 4),
            ("(1|[a-3])", 5),
            ("(1|[3q])", 5),
            ("(1|[3-#])", 5),
        ] {
            assert_eq!(DigitMap::parse(map), Err(DigitMapError::Range(at)), "{map}");
        }
        // Unclosed and empty ranges: at their `[`.
        assert_eq!(DigitMap::parse("(1|2[3"), Err(DigitMapError::Unexpected(6)));
        assert_eq!(DigitMap::parse("12[3"), Err(DigitMapError::Range(2)));
        assert_eq!(DigitMap::parse("(1|[])"), Err(DigitMapError::Range(3)));
        assert_eq!(check("[3-5]", "4"), MatchState::Complete { matched: true });
        assert_eq!(check("[3-3]", "3"), MatchState::Complete { matched: true });
        assert_eq!(check("[3-5]", "6"), MatchState::Complete { matched: false });
    }

    /// The DTMF letters `A`–`D` are keys of their own (RFC 3435 §2.1.5's `DigitMapLetter`),
    /// case-insensitive, distinct from each other and from the digits.
    #[test]
    fn letters_are_keys_of_their_own() {
        let complete = MatchState::Complete { matched: true };
        let dead = MatchState::Complete { matched: false };
        for (i, l) in ['A', 'B', 'C', 'D'].into_iter().enumerate() {
            assert_eq!(
                check(&l.to_string(), &l.to_ascii_lowercase().to_string()),
                complete
            );
            for (j, other) in ['A', 'B', 'C', 'D', '0', '9', '*', '#']
                .into_iter()
                .enumerate()
            {
                if i != j {
                    assert_eq!(
                        check(&l.to_string(), &other.to_string()),
                        dead,
                        "{l} {other}"
                    );
                }
            }
        }
        assert!(
            matches!(DigitMap::parse("[A-D]"), Err(DigitMapError::Range(_))),
            "a range is of digits only"
        );
        assert_eq!(check("[AD]", "D"), complete);
    }

    #[test]
    fn malformed_maps_are_errors_with_offsets() {
        assert_eq!(
            DigitMap::parse("(12|[3-"),
            Err(DigitMapError::Unexpected(7))
        );
        assert!(matches!(
            DigitMap::parse("([3-)"),
            Err(DigitMapError::Range(_))
        ));
        assert_eq!(DigitMap::parse("(1|q)"), Err(DigitMapError::Unexpected(3)));
        assert!(matches!(
            DigitMap::parse("(1||2)"),
            Err(DigitMapError::Size(_))
        ));
        assert_eq!(DigitMap::parse(".1"), Err(DigitMapError::Unexpected(0)));
        assert_eq!(
            DigitMap::parse(&"1".repeat(MAX_TEXT + 1)),
            Err(DigitMapError::Size(MAX_TEXT))
        );
        // Exactly MAX_TEXT bytes (spaces inside a pattern are skipped) is a map.
        let longest = format!("1{}2", " ".repeat(MAX_TEXT - 2));
        assert_eq!(
            DigitMap::parse(&longest).unwrap().check("12", false),
            MatchState::Complete { matched: true }
        );
        assert_eq!(DigitMap::parse(" (1|2) ").unwrap().as_str(), "(1|2)");
        let huge = format!("({})", vec!["1"; MAX_PATTERNS + 1].join("|"));
        assert!(matches!(
            DigitMap::parse(&huge),
            Err(DigitMapError::Size(_))
        ));
    }
}
