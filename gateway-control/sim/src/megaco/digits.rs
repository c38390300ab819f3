//! DTMF as H.248.1 names it (Annex E.6, package `dd`) and its digit maps (§7.1.14), read into
//! the shared matcher of [`gateway_control::digitmap`].
//!
//! An H.248 digit map value is `[T:t,][S:s,][L:l,][Z:z,](pattern|pattern…)`: the timers in
//! seconds, then patterns whose symbols are the digits, `A`–`D`, `E` for `*`, `F` for `#`, `x`,
//! ranges `[…]`, `.` (repeat), the timer positions `S` and `L`, and the long-duration modifier
//! `Z`. The matcher speaks MGCP's syntax, so `E`/`F` become `*`/`#`, `S` and `L` its timer `T`,
//! and `Z` is dropped (a key press is never long here). `*`, `#` and `T` are taken as they
//! are, as lenient gateways do.

use std::time::Duration;

use gateway_control::digitmap::DigitMap;

/// A digit map read from a DigitMap descriptor or a `dd/ce` parameter.
#[derive(Debug, Clone)]
pub(crate) struct Map {
    pub(crate) map: DigitMap,
    pub(crate) short: Option<Duration>,
    pub(crate) long: Option<Duration>,
}

/// Why a digit map value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadMap(pub(crate) String);

impl Map {
    /// Reads a digit map value as written between its braces.
    pub(crate) fn parse(text: &str) -> Result<Self, BadMap> {
        let mut rest = text.trim();
        let mut short = None;
        let mut long = None;
        // The timer settings, each `X:n,` before the patterns.
        while let Some((head, tail)) = rest.split_once(',') {
            let Some((name, value)) = head.split_once(':') else {
                break;
            };
            let name = name.trim();
            if !matches!(name, "T" | "S" | "L" | "Z" | "t" | "s" | "l" | "z") {
                break;
            }
            let secs: u64 = value
                .trim()
                .parse()
                .ok()
                .filter(|&n| n <= 99)
                .ok_or_else(|| BadMap(format!("bad timer {head:?}")))?;
            match name {
                "S" | "s" => short = Some(Duration::from_secs(secs.max(1))),
                "L" | "l" => long = Some(Duration::from_secs(secs.max(1))),
                _ => {}
            }
            rest = tail.trim_start();
        }
        let mut mgcp = String::with_capacity(rest.len());
        let mut in_range = false;
        for c in rest.chars() {
            match c {
                '[' => {
                    in_range = true;
                    mgcp.push(c);
                }
                ']' => {
                    in_range = false;
                    mgcp.push(c);
                }
                'E' | 'e' => mgcp.push('*'),
                'F' | 'f' => mgcp.push('#'),
                'S' | 's' | 'L' | 'l' | 'T' | 't' if !in_range => mgcp.push('T'),
                'Z' | 'z' => {}
                c if c.is_whitespace() => {}
                c => mgcp.push(c),
            }
        }
        let map = DigitMap::parse(&mgcp).map_err(|e| BadMap(e.to_string()))?;
        Ok(Self { map, short, long })
    }
}

/// The `dd` event for a key: `d0`–`d9`, `ds` (`*`), `do` (`#`), `da`–`dd`.
pub(crate) fn event(key: char) -> Option<&'static str> {
    const DIGITS: [&str; 10] = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];
    Some(match key.to_ascii_uppercase() {
        d @ '0'..='9' => DIGITS[d as usize - '0' as usize],
        '*' => "ds",
        '#' => "do",
        'A' => "da",
        'B' => "db",
        'C' => "dc",
        'D' => "dd",
        _ => return None,
    })
}

/// The key a `dd` event names, the inverse of [`event`].
pub(crate) fn key(event: &str) -> Option<char> {
    let e = event.to_ascii_lowercase();
    let rest = e.strip_prefix('d')?;
    let mut chars = rest.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    Some(match c {
        '0'..='9' => c,
        's' => '*',
        'o' => '#',
        'a'..='d' => c.to_ascii_uppercase(),
        _ => return None,
    })
}

/// A dial string in digit-map symbols, for the `ds` parameter: `*` is `E`, `#` is `F`.
pub(crate) fn symbols(keys: &str) -> String {
    keys.chars()
        .map(|c| match c {
            '*' => 'E',
            '#' => 'F',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_control::digitmap::MatchState;

    #[test]
    fn h248_maps_read_into_the_matcher() {
        let m = Map::parse("T:10, S:2, L:20,\n (xxxF|Exx|0S|9xxx.L)").unwrap();
        assert_eq!(m.short, Some(Duration::from_secs(2)));
        assert_eq!(m.long, Some(Duration::from_secs(20)));
        assert_eq!(
            m.map.check("123#", false),
            MatchState::Complete { matched: true }
        );
        assert_eq!(
            m.map.check("*12", false),
            MatchState::Complete { matched: true }
        );
        assert_eq!(m.map.check("0", false), MatchState::Partial { short: true });
        assert_eq!(
            m.map.check("0", true),
            MatchState::Complete { matched: true }
        );
        // MGCP spellings are taken too.
        let lenient = Map::parse("(xx#|*T)").unwrap();
        assert_eq!(
            lenient.map.check("12#", false),
            MatchState::Complete { matched: true }
        );
        assert!(Map::parse("(x?)").is_err());
        assert!(Map::parse("T:999,(x)").is_err());
    }

    #[test]
    fn keys_and_events_and_symbols() {
        for k in "0123456789*#ABCD".chars() {
            assert_eq!(key(event(k).unwrap()), Some(k));
        }
        assert_eq!(event('5'), Some("d5"));
        assert_eq!(event('#'), Some("do"));
        assert_eq!(key("std"), None);
        assert_eq!(symbols("12*#"), "12EF");
    }
}
