//! The validated pieces a command is built from, and LCDd's quoting.

use std::fmt;

/// The longest [`Id`] or [`KeyName`], in bytes.
pub const MAX_ID: usize = 32;
/// The longest [`Text`], in bytes (longer text is cut at a character boundary).
pub const MAX_TEXT: usize = 256;

/// Why a string is not a valid [`Id`] or [`KeyName`]. API misuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Empty.
    #[error("empty id")]
    Empty,
    /// Longer than [`MAX_ID`] bytes.
    #[error("id longer than {MAX_ID} bytes")]
    TooLong,
    /// A character outside the allowed set, at this byte offset.
    #[error("character not allowed in an id at byte {0}")]
    Character(usize),
}

fn check(s: &str, extra: &[u8]) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID {
        return Err(IdError::TooLong);
    }
    for (i, b) in s.bytes().enumerate() {
        let ok = b.is_ascii_alphanumeric() || (i > 0 && extra.contains(&b));
        if !ok {
            return Err(IdError::Character(i));
        }
    }
    Ok(())
}

/// The id of a screen, widget or menu item: 1..=[`MAX_ID`] ASCII letters, digits, `_`, `-`
/// and `.`, starting with a letter or digit (so it can never look like an option such as
/// `-name`, nor like LCDd's reserved ids `_close_`, `_quit_`, `_none_`, `_main_` and
/// `_client_menu_`). It is sent unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, IdError> {
        check(s, b"_-.")?;
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key name as LCDd's drivers report it (`Up`, `Down`, `Enter`, `Escape`…): 1..=[`MAX_ID`]
/// ASCII letters, digits and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, IdError> {
        check(s, b"_")?;
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text to show: control characters are removed and the text is cut to [`MAX_TEXT`] bytes at
/// construction, so it always encodes to one quoted word on one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(String);

impl Text {
    /// `s` without its control characters, cut to [`MAX_TEXT`] bytes.
    pub fn new(s: &str) -> Self {
        let mut out = String::with_capacity(s.len().min(MAX_TEXT));
        for c in s.chars().filter(|c| !c.is_control()) {
            if out.len() + c.len_utf8() > MAX_TEXT {
                break;
            }
            out.push(c);
        }
        Self(out)
    }

    /// The text as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends the inside of a quoted word: `"` and `\` are escaped with a backslash.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends ` "<text>"`.
pub(crate) fn push_quoted(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(b" \"");
    escape_into(out, s);
    out.push(b'"');
}
