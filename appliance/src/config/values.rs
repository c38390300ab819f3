//! The value syntaxes shared by every section: durations, sizes, addresses, positive counts. Each
//! helper names the key in its error.

use std::time::Duration;

use super::Error;

/// A value error for `key`.
pub(super) fn bad(key: &str, value: impl std::fmt::Display, message: &str) -> Error {
    Error::Value {
        key: key.to_owned(),
        value: value.to_string(),
        message: message.to_owned(),
    }
}

/// `v` parsed with [`std::str::FromStr`], or an error naming `key` and what was `expected`.
pub(super) fn parsed<T: std::str::FromStr>(key: &str, v: &str, expected: &str) -> Result<T, Error> {
    v.parse().map_err(|_| bad(key, format!("{v:?}"), expected))
}

/// A duration such as `"20s"`.
pub(super) fn duration(key: &str, v: &str) -> Result<Duration, Error> {
    parse_duration(v).ok_or_else(|| {
        bad(
            key,
            format!("{v:?}"),
            "expected a duration such as \"500ms\", \"20s\", \"10m\", \"12h\" or \"30d\"",
        )
    })
}

/// A size such as `"64KiB"`.
pub(super) fn size(key: &str, v: &str) -> Result<usize, Error> {
    parse_size(v).ok_or_else(|| {
        bad(
            key,
            format!("{v:?}"),
            "expected a size such as \"65536\", \"64KiB\" or \"16MiB\"",
        )
    })
}

/// A count that must be above zero.
pub(super) fn positive<T: Into<u64> + Copy + std::fmt::Display>(
    key: &str,
    v: T,
) -> Result<T, Error> {
    if v.into() > 0 {
        Ok(v)
    } else {
        Err(bad(key, v, "expected a positive integer"))
    }
}

/// Parses `"<n><unit>"` with unit ms, s, m, h or d.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms).map(Duration::from_millis)
}

/// Parses a byte count with an optional unit (B, kB, KiB, MB, MiB, GB, GiB).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: usize = n.parse().ok()?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1024,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1TB"), None);
    }
}
