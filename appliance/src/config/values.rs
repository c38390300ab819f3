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

/// A duration above zero.
pub(super) fn positive_duration(key: &str, v: &str) -> Result<Duration, Error> {
    let d = duration(key, v)?;
    if d.is_zero() {
        return Err(bad(key, v, "must be positive"));
    }
    Ok(d)
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

pub use offhook_domain::settings::{parse_duration, parse_size};
