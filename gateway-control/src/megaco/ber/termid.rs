//! Termination ids (Annex A.1) in the text form of OTP's default term-id config `[8,8,8]`:
//! levels of eight binary digits, one per octet, separated by `/`; a level may end early with
//! `*` (ALL) or `$` (CHOOSE). See the module docs of [`super`].

/// The text of ROOT (eight `FF` octets, no wildcard).
pub(super) const ROOT: &str = "ROOT";
const ROOT_ID: [u8; 8] = [0xff; 8];
/// OTP's default config gives three levels: a wildcard ending the id pads it to this many.
const DEFAULT_LEVELS: usize = 3;

/// An id in binary form: up to eight wildcard octets and one to eight id octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Binary {
    pub(super) wildcards: [u8; 8],
    pub(super) wildcard_count: usize,
    pub(super) id: [u8; 8],
    pub(super) len: usize,
}

impl Binary {
    pub(super) fn wildcards(&self) -> &[u8] {
        &self.wildcards[..self.wildcard_count]
    }

    pub(super) fn id(&self) -> &[u8] {
        &self.id[..self.len]
    }
}

/// The binary form of a text id, or `None` if it is not in the form above.
pub(super) fn encode(text: &str) -> Option<Binary> {
    let mut b = Binary {
        wildcards: [0; 8],
        wildcard_count: 0,
        id: [0; 8],
        len: 0,
    };
    if text.eq_ignore_ascii_case(ROOT) {
        b.id = ROOT_ID;
        b.len = 8;
        return Some(b);
    }
    let levels = text.split('/').count();
    if levels > 8 {
        return None;
    }
    // Where each wildcard goes: (level, digits before it, ALL?).
    let mut marks = [(0usize, 0usize, false); 8];
    for (i, level) in text.split('/').enumerate() {
        let bytes = level.as_bytes();
        let (digits, wildcard) = match bytes.split_last() {
            Some((b'*', digits)) => (digits, Some(true)),
            Some((b'$', digits)) => (digits, Some(false)),
            _ => (bytes, None),
        };
        if !digits.iter().all(|d| matches!(d, b'0' | b'1')) {
            return None;
        }
        let mut octet = 0u8;
        for (bit, d) in digits.iter().enumerate().take(8) {
            if *d == b'1' {
                octet |= 0x80 >> bit;
            }
        }
        b.id[i] = octet;
        match wildcard {
            None if digits.len() == 8 => {}
            Some(all) if digits.len() < 8 => {
                marks[b.wildcard_count] = (i, digits.len(), all);
                b.wildcard_count += 1;
            }
            _ => return None,
        }
    }
    let last_wild = b.wildcard_count > 0 && marks[b.wildcard_count - 1].0 == levels - 1;
    b.len = if last_wild && levels < DEFAULT_LEVELS {
        DEFAULT_LEVELS
    } else {
        levels
    };
    let bits = b.len * 8;
    for (n, &(level, digits, all)) in marks[..b.wildcard_count].iter().enumerate() {
        let position = bits - 1 - (level * 8 + digits);
        let recursive = level == levels - 1 && levels < b.len;
        b.wildcards[n] =
            if all { 0x80 } else { 0 } | if recursive { 0x40 } else { 0 } | position as u8;
    }
    Some(b)
}

/// Why a binary id has no text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// The id is empty or longer than eight octets.
    Length,
    /// More wildcards than levels, two in one level, one past the end, or one after a
    /// wildcard that already covers all lower levels.
    Wildcards,
}

/// Writes the text form of a binary id into `out`.
pub(super) fn decode(wildcards: &[u8], id: &[u8], out: &mut String) -> Result<(), Refused> {
    if id.is_empty() || id.len() > 8 {
        return Err(Refused::Length);
    }
    if wildcards.is_empty() && id == ROOT_ID {
        out.push_str(ROOT);
        return Ok(());
    }
    if wildcards.len() > id.len() {
        return Err(Refused::Wildcards);
    }
    let bits = id.len() * 8;
    // Per level: digits kept before its wildcard, and the wildcard.
    let mut marks: [Option<(usize, char)>; 8] = [None; 8];
    let mut levels = id.len();
    for &w in wildcards {
        let position = usize::from(w & 0x3f);
        if position >= bits {
            return Err(Refused::Wildcards);
        }
        let from_top = bits - 1 - position;
        let (level, digits) = (from_top / 8, from_top % 8);
        if level >= levels || marks[level].is_some() {
            return Err(Refused::Wildcards);
        }
        marks[level] = Some((digits, if w & 0x80 != 0 { '*' } else { '$' }));
        if w & 0x40 != 0 {
            if marks[level + 1..].iter().any(Option::is_some) {
                return Err(Refused::Wildcards);
            }
            levels = level + 1;
        }
    }
    for (i, &octet) in id[..levels].iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        let (digits, wildcard) = match marks[i] {
            Some((digits, c)) => (digits, Some(c)),
            None => (8, None),
        };
        for bit in 0..digits {
            out.push(if octet & (0x80 >> bit) != 0 { '1' } else { '0' });
        }
        if let Some(c) = wildcard {
            out.push(c);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(wildcards: &[u8], id: &[u8]) -> Result<String, Refused> {
        let mut out = String::new();
        decode(wildcards, id, &mut out).map(|()| out)
    }

    /// The encodings OTP's `megaco_binary_term_id` gives with its default config `[8,8,8]`.
    #[test]
    fn otp_default_config() {
        for (t, wildcards, id) in [
            ("ROOT", &[][..], &[0xff; 8][..]),
            ("11111111/00000000/00000001", &[], &[0xff, 0, 1]),
            ("*", &[0xd7], &[0, 0, 0]),
            ("$", &[0x57], &[0, 0, 0]),
            ("11111111/*", &[0xcf], &[0xff, 0, 0]),
            ("11111111/00000000/*", &[0x87], &[0xff, 0, 0]),
            ("11111111/00000000/0000$", &[0x03], &[0xff, 0, 0]),
            ("*/00000000/00000001", &[0x97], &[0, 0, 1]),
            ("0101$", &[0x53], &[0x50, 0, 0]),
        ] {
            let b = encode(t).unwrap_or_else(|| panic!("{t}"));
            assert_eq!((b.wildcards(), b.id()), (wildcards, id), "{t}");
            assert_eq!(text(wildcards, id).unwrap(), t);
        }
        assert_eq!(encode("root").unwrap().id(), &[0xff; 8]);
    }

    #[test]
    fn other_lengths_are_one_level_per_octet() {
        assert_eq!(text(&[], &[0x0a]).unwrap(), "00001010");
        assert_eq!(encode("00001010").unwrap().id(), &[0x0a]);
        let eight = "00000001/".repeat(7) + "00000001";
        assert_eq!(encode(&eight).unwrap().id(), &[1; 8]);
        // A recursive wildcard drops the levels below it.
        assert_eq!(text(&[0xcf], &[0xff, 0xff, 0xff]).unwrap(), "11111111/*");
    }

    #[test]
    fn text_ids_and_bad_forms_are_refused() {
        for t in [
            "al/1",
            "rtp/$",
            "",
            "1",
            "000000001",
            "0000000*1",
            "1/",
            "/",
            "00000000*",
            "00000000/00000000/00000000/00000000/00000000/00000000/00000000/00000000/00000000",
        ] {
            assert_eq!(encode(t), None, "{t:?}");
        }
        assert_eq!(text(&[], &[]), Err(Refused::Length));
        assert_eq!(text(&[], &[0; 9]), Err(Refused::Length));
        assert_eq!(text(&[0x3f], &[0]), Err(Refused::Wildcards));
        assert_eq!(text(&[0x07, 0x06], &[0]), Err(Refused::Wildcards));
        assert_eq!(text(&[0xd7, 0x87], &[0, 0, 0]), Err(Refused::Wildcards));
    }
}
