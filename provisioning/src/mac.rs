//! Hardware (MAC) addresses, as phones and people write them.

use std::fmt;
use std::str::FromStr;

/// A 48-bit IEEE 802 MAC address.
///
/// Parsing takes any case and any of the usual separators: `00:04:F2:AB:CD:EF`,
/// `00-04-f2-ab-cd-ef`, `0004.f2ab.cdef` and `0004f2abcdef` are the same address. It displays
/// as lower-case hex with colons; [`Mac::hex`] and [`Mac::hex_upper`] give the bare forms
/// phone vendors put in file names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A character that is neither a hex digit nor a separator (`:`, `-`, `.`).
    #[error("'{0}' at offset {1} is not a hex digit or a separator")]
    Character(char, usize),
    /// Not exactly 12 hex digits.
    #[error("a MAC address has 12 hex digits, not {0}")]
    Length(usize),
}

impl Mac {
    /// The 12 lower-case hex digits, no separators (`0004f2abcdef`).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The 12 upper-case hex digits, no separators (`0004F2ABCDEF`).
    pub fn hex_upper(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The first three bytes: the vendor's OUI.
    pub fn oui(&self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }

    /// Finds a MAC address written as 12 consecutive hex digits in `s` at `offset` (as in file
    /// names such as `SEP0004F2ABCDEF.cnf.xml`), any case.
    pub fn from_hex_at(s: &str, offset: usize) -> Option<Self> {
        let digits = s.get(offset..offset.checked_add(12)?)?;
        let mut out = [0u8; 6];
        for (i, pair) in digits.as_bytes().chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            out[i] = hi << 4 | lo;
        }
        Some(Self(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl FromStr for Mac {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let mut out = [0u8; 6];
        let mut n = 0usize;
        for (offset, c) in s.char_indices() {
            if matches!(c, ':' | '-' | '.') {
                continue;
            }
            let v = u8::try_from(c)
                .ok()
                .and_then(hex_value)
                .ok_or(ParseError::Character(c, offset))?;
            if n < 12 {
                out[n / 2] |= if n.is_multiple_of(2) { v << 4 } else { v };
            }
            n += 1;
        }
        if n != 12 {
            return Err(ParseError::Length(n));
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: Mac = Mac([0x00, 0x04, 0xf2, 0xab, 0xcd, 0xef]);

    #[test]
    fn every_usual_spelling_is_the_same_address() {
        for s in [
            "00:04:F2:AB:CD:EF",
            "00-04-f2-ab-cd-ef",
            "0004.f2ab.cdef",
            "0004f2abcdef",
            "0004F2ABCDEF",
        ] {
            assert_eq!(s.parse::<Mac>(), Ok(MAC), "{s}");
        }
        assert_eq!(MAC.to_string(), "00:04:f2:ab:cd:ef");
        assert_eq!(MAC.hex(), "0004f2abcdef");
        assert_eq!(MAC.hex_upper(), "0004F2ABCDEF");
        assert_eq!(MAC.oui(), [0x00, 0x04, 0xf2]);
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!("0004f2abcde".parse::<Mac>(), Err(ParseError::Length(11)));
        assert_eq!("0004f2abcdef0".parse::<Mac>(), Err(ParseError::Length(13)));
        assert_eq!(
            "00:04:g2:ab:cd:ef".parse::<Mac>(),
            Err(ParseError::Character('g', 6))
        );
        assert_eq!("".parse::<Mac>(), Err(ParseError::Length(0)));
        assert!("00:04:f2:ab:cd:éf".parse::<Mac>().is_err());
    }

    #[test]
    fn hex_in_a_file_name() {
        assert_eq!(Mac::from_hex_at("SEP0004F2ABCDEF.cnf.xml", 3), Some(MAC));
        assert_eq!(Mac::from_hex_at("cfg0004f2abcdef.xml", 3), Some(MAC));
        assert_eq!(Mac::from_hex_at("SEP0004F2ABCDE", 3), None);
        assert_eq!(Mac::from_hex_at("SEP0004F2ABCDEG.cnf.xml", 3), None);
        assert_eq!(Mac::from_hex_at("é", 1), None);
    }

    proptest! {
        #[test]
        fn display_parses_back(b in any::<[u8; 6]>()) {
            let m = Mac(b);
            prop_assert_eq!(m.to_string().parse::<Mac>(), Ok(m));
            prop_assert_eq!(m.hex_upper().parse::<Mac>(), Ok(m));
            prop_assert_eq!(Mac::from_hex_at(&m.hex(), 0), Some(m));
        }
    }
}
