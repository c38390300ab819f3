//! The text forms of what Annex A carries in binary: package item names, parameter names,
//! values, session descriptions, digit maps, timestamps. Both directions; the module docs of
//! [`super`] describe each form.

use std::fmt::Write as _;

use crate::megaco::packages::{self, Item, Scope, WILDCARD};

/// `SafeChar` of Annex B: the characters of an unquoted value.
pub(super) fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-&!_/'?@^`~*$\\()%|.".contains(&b)
}

/// Whether `s` can stand between the quotes of a `quotedString` (no quote, no control
/// character but a tab).
pub(super) fn is_quotable(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\t' || (c != '"' && !c.is_control()))
}

/// The value without its quotes, if it has them.
pub(super) fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// A raw id written `xHHHH`.
fn raw_id(s: &str) -> Option<u16> {
    let hex = s.strip_prefix(['x', 'X'])?;
    if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(hex, 16).ok()
}

/// Why a name has no binary id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameError {
    /// Not `pkg/item` (or a native property without a package).
    Form,
    /// The registry does not know it.
    Unknown,
}

/// The `PkgdName` of `name` in `scope`: package and item ids.
pub(super) fn pkgd_id(scope: Scope, name: &str) -> Result<(u16, u16), NameError> {
    let Some((package, item)) = name.split_once('/') else {
        // Only the native properties of Annex C go without a package.
        if scope != Scope::Property {
            return Err(NameError::Form);
        }
        let native = packages::by_id(0).ok_or(NameError::Unknown)?;
        return match raw_id(name) {
            Some(id) => Ok((0, id)),
            None => native
                .item(scope, name)
                .map(|i| (0, i.id))
                .ok_or(NameError::Unknown),
        };
    };
    if package.is_empty() || item.is_empty() || item.contains('/') {
        return Err(NameError::Form);
    }
    if package == "*" {
        return if item == "*" {
            Ok((WILDCARD, WILDCARD))
        } else {
            Err(NameError::Form)
        };
    }
    let (package_id, known) = match raw_id(package) {
        Some(id) => (id, packages::by_id(id)),
        None => {
            let p = packages::by_name(package).ok_or(NameError::Unknown)?;
            (p.id, Some(p))
        }
    };
    let item_id = if item == "*" {
        WILDCARD
    } else if let Some(id) = raw_id(item) {
        id
    } else {
        known
            .and_then(|p| p.item(scope, item))
            .ok_or(NameError::Unknown)?
            .id
    };
    Ok((package_id, item_id))
}

/// The registry's entry for a `PkgdName`, if it has one.
pub(super) fn pkgd_item(scope: Scope, package: u16, item: u16) -> Option<&'static Item> {
    packages::by_id(package)?.item_by_id(scope, item)
}

/// Writes the text name of a `PkgdName`.
pub(super) fn pkgd_name(scope: Scope, package: u16, item: u16, out: &mut String) {
    if package == WILDCARD && item == WILDCARD {
        out.push_str("*/*");
        return;
    }
    let known = packages::by_id(package);
    match known {
        // Native properties go without a package; anything else names one.
        Some(p) if p.id == 0 && scope == Scope::Property => {}
        Some(p) if p.id != 0 => {
            out.push_str(p.name);
            out.push('/');
        }
        _ => {
            let _ = write!(out, "x{package:04x}/");
        }
    }
    match known.and_then(|p| p.item_by_id(scope, item)) {
        Some(i) => out.push_str(i.name),
        None if item == WILDCARD && package != 0 => out.push('*'),
        None => {
            let _ = write!(out, "x{item:04x}");
        }
    }
}

/// The id of a parameter of `owner` (an event or signal of the registry, or unknown).
pub(super) fn param_id(owner: Option<&'static Item>, name: &str) -> Option<u16> {
    raw_id(name).or_else(|| owner?.param(name))
}

/// Writes the text name of a parameter of `owner`.
pub(super) fn param_name(owner: Option<&'static Item>, id: u16, out: &mut String) {
    match owner.and_then(|o| o.param_name(id)) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "x{id:04x}");
        }
    }
}

/// The letter of a session-description line and its Annex C property id (`v` = 0xB001 …
/// `m` = 0xB00F).
pub(super) fn sdp_id(letter: &str) -> Option<u16> {
    let native = packages::by_id(0)?;
    let item = native.item(Scope::Property, letter)?;
    (item.id & 0xff00 == 0xb000 && item.name == letter).then_some(item.id)
}

/// The letter of an Annex C session-description property id.
pub(super) fn sdp_letter(id: u16) -> Option<&'static str> {
    let item = packages::by_id(0)?.item_by_id(Scope::Property, id)?;
    (id & 0xff00 == 0xb000).then_some(item.name)
}

/// A line of a session description that has no binary form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadLine<'t>(pub(super) &'t str);

/// The `x=value` lines of a session description, blank lines skipped, `\}` unescaped later.
pub(super) fn sdp_lines(sdp: &str) -> impl Iterator<Item = Result<(u16, &str), BadLine<'_>>> {
    sdp.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (letter, value) = line.split_once('=').ok_or(BadLine(line))?;
            let id = sdp_id(letter.trim_end()).ok_or(BadLine(line))?;
            Ok((id, value))
        })
}

/// `value` with `\}` turned back into `}` (the one escape of a braced text).
pub(super) fn unescape_braces(value: &str, out: &mut Vec<u8>) {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'}') {
            out.push(b'}');
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
}

/// Appends `value` with every `}` written `\}`.
pub(super) fn escape_braces(value: &str, out: &mut String) {
    for c in value.chars() {
        if c == '}' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The timers in front of a digit map's text (`T:`, `S:`, `L:`, each 0–99) and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct DigitMapValue<'t> {
    pub(super) start: Option<u8>,
    pub(super) short: Option<u8>,
    pub(super) long: Option<u8>,
    pub(super) body: &'t str,
}

/// Splits a digit map's text into timers and body (without the white space around it);
/// `None` if a timer is malformed.
pub(super) fn digit_map(text: &str) -> Option<DigitMapValue<'_>> {
    let mut v = DigitMapValue {
        body: text,
        ..DigitMapValue::default()
    };
    loop {
        let rest = v.body.trim_start();
        let b = rest.as_bytes();
        let slot = match b.first().map(u8::to_ascii_uppercase) {
            Some(b'T') => &mut v.start,
            Some(b'S') => &mut v.short,
            Some(b'L') => &mut v.long,
            _ => break,
        };
        let Some(after) = rest[1..].trim_start().strip_prefix(':') else {
            break;
        };
        let after = after.trim_start();
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 2 || slot.is_some() {
            return None;
        }
        *slot = after[..digits].parse().ok();
        v.body = after[digits..].trim_start().strip_prefix(',')?;
    }
    // White space around the body is not part of it (OTP drops it too).
    v.body = v.body.trim();
    Some(v)
}

/// Writes a digit map's text: its timers, then its body.
pub(super) fn digit_map_text(v: &DigitMapValue<'_>, out: &mut String) {
    for (letter, timer) in [('T', v.start), ('S', v.short), ('L', v.long)] {
        if let Some(t) = timer {
            let _ = write!(out, "{letter}:{t},");
        }
    }
    out.push_str(v.body);
}

/// Splits `yyyymmddThhmmsshh` into date and time.
pub(super) fn timestamp(text: &str) -> Option<(&str, &str)> {
    let (date, time) = text.split_once(['T', 't'])?;
    let ok = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    (ok(date) && ok(time)).then_some((date, time))
}

/// The two octets of a digit map name: OTP's `dialplanNN` (each N one octet, 0–9), or a raw
/// `xHHHH`.
pub(super) fn dialplan_id(name: &str) -> Option<[u8; 2]> {
    if let Some(id) = raw_id(name) {
        return Some(id.to_be_bytes());
    }
    let digits = name
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("dialplan"))
        .map(|_| &name.as_bytes()[8..])?;
    let value = |d: &u8| d.is_ascii_digit().then(|| d - b'0');
    match digits {
        [] => Some([0, 0]),
        [b] => Some([0, value(b)?]),
        [a, b] => Some([value(a)?, value(b)?]),
        _ => None,
    }
}

/// Writes the text of a digit map name's two octets.
pub(super) fn dialplan_name(id: [u8; 2], out: &mut String) {
    if id.iter().all(|&d| d <= 9) {
        out.push_str("dialplan");
        out.push(char::from(b'0' + id[0]));
        out.push(char::from(b'0' + id[1]));
    } else {
        let _ = write!(out, "x{:04x}", u16::from_be_bytes(id));
    }
}

/// The octets of an mtpAddress written in hex (an even number of digits, 2 to 4 octets).
pub(super) fn mtp_octets(hex: &str, out: &mut [u8; 4]) -> Option<usize> {
    let b = hex.as_bytes();
    if !b.len().is_multiple_of(2) || !(4..=8).contains(&b.len()) {
        return None;
    }
    for (i, pair) in b.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(b.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert_eq!(pkgd_id(Scope::Event, "al/of"), Ok((9, 5)));
        assert_eq!(pkgd_id(Scope::Event, "AL/OF"), Ok((9, 5)));
        assert_eq!(pkgd_id(Scope::Signal, "al/of"), Err(NameError::Unknown));
        assert_eq!(pkgd_id(Scope::Event, "al/*"), Ok((9, 0xffff)));
        assert_eq!(pkgd_id(Scope::Event, "*/*"), Ok((0xffff, 0xffff)));
        assert_eq!(pkgd_id(Scope::Event, "*/of"), Err(NameError::Form));
        assert_eq!(pkgd_id(Scope::Event, "x00ab/x0003"), Ok((0xab, 3)));
        assert_eq!(pkgd_id(Scope::Property, "c"), Ok((0, 0xb008)));
        assert_eq!(pkgd_id(Scope::Event, "of"), Err(NameError::Form));
        assert_eq!(pkgd_id(Scope::Event, "zz/of"), Err(NameError::Unknown));
        let name = |scope, p, i| {
            let mut s = String::new();
            pkgd_name(scope, p, i, &mut s);
            s
        };
        assert_eq!(name(Scope::Signal, 7, 0x30), "cg/dt");
        assert_eq!(name(Scope::Event, 9, 0xffff), "al/*");
        assert_eq!(name(Scope::Event, 0xffff, 0xffff), "*/*");
        assert_eq!(name(Scope::Event, 0xab, 3), "x00ab/x0003");
        assert_eq!(name(Scope::Event, 9, 0x77), "al/x0077");
        assert_eq!(name(Scope::Property, 0, 0xb00f), "m");
        assert_eq!(name(Scope::Property, 0, 0x1234), "x1234");
        assert_eq!(name(Scope::Event, 0, 5), "x0000/x0005");
        assert_eq!(pkgd_id(Scope::Event, "x0000/x0005"), Ok((0, 5)));
    }

    #[test]
    fn digit_maps_and_their_timers() {
        let v = digit_map("T:4, S:2,L:15,(0|1x.)").unwrap();
        assert_eq!(
            (v.start, v.short, v.long, v.body),
            (Some(4), Some(2), Some(15), "(0|1x.)")
        );
        let mut s = String::new();
        digit_map_text(&v, &mut s);
        assert_eq!(s, "T:4,S:2,L:15,(0|1x.)");
        assert_eq!(digit_map(" (Sx|Lx)\n").unwrap().body, "(Sx|Lx)");
        assert_eq!(digit_map("T:100,x"), None);
        assert_eq!(digit_map("T:1,T:2,x"), None);
        assert_eq!(digit_map("T:1 x"), None);
    }

    #[test]
    fn small_forms() {
        assert_eq!(
            timestamp("20261205T12000000"),
            Some(("20261205", "12000000"))
        );
        assert_eq!(timestamp("2026125T12000000"), None);
        assert_eq!(dialplan_id("dialplan07"), Some([0, 7]));
        assert_eq!(dialplan_id("dialplan1"), Some([0, 1]));
        assert_eq!(dialplan_id("dialplan"), Some([0, 0]));
        assert_eq!(dialplan_id("dialplanX"), None);
        assert_eq!(dialplan_id("x0a0b"), Some([10, 11]));
        let mut out = [0; 4];
        assert_eq!(mtp_octets("0A1B", &mut out), Some(2));
        assert_eq!(out[..2], [0x0a, 0x1b]);
        assert_eq!(mtp_octets("0A1", &mut out), None);
        let mut s = String::new();
        escape_braces("a}b\\}", &mut s);
        assert_eq!(s, "a\\}b\\\\}");
        let mut back = Vec::new();
        unescape_braces(&s, &mut back);
        assert_eq!(back, b"a}b\\}");
        assert_eq!(unquote("\"901 Cold Boot\""), "901 Cold Boot");
        assert_eq!(unquote("\""), "\"");
        let lines: Vec<_> = sdp_lines("\n  v=0\r\nc=IN IP4 $\n\n").collect();
        assert_eq!(lines, [Ok((0xb001, "0")), Ok((0xb008, "IN IP4 $"))]);
        assert!(sdp_lines("IPv4=1").next().unwrap().is_err());
    }
}
