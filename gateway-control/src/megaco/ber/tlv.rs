//! The BER layer (ITU-T X.690 §8): tag, length, value. Only what Annex A needs: one-octet
//! tags (every tag of the module is below 31), definite lengths, and the primitive types
//! INTEGER, BOOLEAN, NULL, ENUMERATED, BIT STRING, OCTET STRING and IA5String.

use super::{DecodeError, DecodeErrorKind, MAX_DEPTH};

/// `[n]` context-specific, primitive.
pub(super) const fn ctx(n: u8) -> u8 {
    0x80 | n
}

/// `[n]` context-specific, constructed.
pub(super) const fn ctx_c(n: u8) -> u8 {
    0xa0 | n
}

/// UNIVERSAL 4, OCTET STRING (the elements of `Value` and of the wildcard list).
pub(super) const OCTET_STRING: u8 = 0x04;
/// UNIVERSAL 16, SEQUENCE (constructed): the elements of a SEQUENCE OF a SEQUENCE type.
pub(super) const SEQUENCE: u8 = 0x30;

/// Writes BER into a `Vec`, constructed values with their lengths patched in afterwards.
pub(super) struct Writer<'o> {
    pub(super) out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    /// A primitive value.
    pub(super) fn primitive(&mut self, tag: u8, content: &[u8]) {
        self.out.push(tag);
        push_length(self.out, content.len());
        self.out.extend_from_slice(content);
    }

    /// A constructed value whose content `f` writes.
    pub(super) fn constructed<E>(
        &mut self,
        tag: u8,
        f: impl FnOnce(&mut Self) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.out.push(tag);
        let at = self.out.len();
        self.out.push(0);
        f(self)?;
        let len = self.out.len() - at - 1;
        if len < 0x80 {
            // Lengths below 128 fit the octet reserved for them.
            self.out[at] = len as u8;
        } else {
            let mut long = [0u8; 9];
            let n = long_length(len, &mut long);
            self.out.splice(at..at + 1, long[..n].iter().copied());
        }
        Ok(())
    }

    /// An INTEGER (or ENUMERATED, with its own tag) in the fewest octets, two's complement.
    pub(super) fn unsigned(&mut self, tag: u8, value: u64) {
        let bytes = value.to_be_bytes();
        // Skip leading zero octets, but keep one if the next octet's top bit is set.
        let mut start = 0;
        while start < 7 && bytes[start] == 0 && bytes[start + 1] & 0x80 == 0 {
            start += 1;
        }
        if bytes[start] & 0x80 != 0 {
            self.out.push(tag);
            push_length(self.out, 9 - start);
            self.out.push(0);
            self.out.extend_from_slice(&bytes[start..]);
        } else {
            self.primitive(tag, &bytes[start..]);
        }
    }

    /// A BOOLEAN: `0xFF` for true, as DER and OTP write it.
    pub(super) fn boolean(&mut self, tag: u8, value: bool) {
        self.primitive(tag, &[if value { 0xff } else { 0 }]);
    }

    /// A NULL.
    pub(super) fn null(&mut self, tag: u8) {
        self.primitive(tag, &[]);
    }

    /// A named BIT STRING of up to 16 bits (bit 0 first), without trailing zero bits (X.690
    /// §11.2.2, as OTP writes it).
    pub(super) fn bits(&mut self, tag: u8, bits: u16) {
        if bits == 0 {
            self.primitive(tag, &[0]);
            return;
        }
        let used = 16 - bits.trailing_zeros() as usize; // counted from bit 0, MSB first
        let octets = used.div_ceil(8);
        let unused = octets * 8 - used;
        let [hi, lo] = bits.to_be_bytes();
        let content = [unused as u8, hi, lo];
        self.primitive(tag, &content[..1 + octets]);
    }
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let mut long = [0u8; 9];
        let n = long_length(len, &mut long);
        out.extend_from_slice(&long[..n]);
    }
}

/// The long form of a length: `0x80 | n` and `n` octets. Returns how many octets it takes.
fn long_length(len: usize, buf: &mut [u8; 9]) -> usize {
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let n = 8 - skip;
    buf[0] = 0x80 | n as u8;
    buf[1..=n].copy_from_slice(&bytes[skip..]);
    n + 1
}

/// One element read: its tag octet, its content and where that content starts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tlv<'a> {
    pub(super) tag: u8,
    pub(super) content: &'a [u8],
    /// Offset of the tag octet in the message.
    pub(super) offset: usize,
    /// Offset of the first content octet in the message.
    pub(super) start: usize,
    /// Nesting depth of the content.
    pub(super) depth: usize,
}

/// Reads the elements of a constructed value (or of the whole message) in order.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the message.
    base: usize,
    depth: usize,
}

pub(super) type Result<T> = std::result::Result<T, DecodeError>;

impl<'a> Reader<'a> {
    /// Reads the whole message.
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            base: 0,
            depth: 0,
        }
    }

    /// Reads the content of a constructed element.
    pub(super) fn enter(tlv: Tlv<'a>) -> Result<Self> {
        if tlv.tag & 0x20 == 0 {
            return Err(DecodeError::at(
                DecodeErrorKind::Expected("a constructed value"),
                tlv.offset,
            ));
        }
        if tlv.depth > MAX_DEPTH {
            return Err(DecodeError::at(DecodeErrorKind::TooDeep, tlv.offset));
        }
        Ok(Self {
            data: tlv.content,
            pos: 0,
            base: tlv.start,
            depth: tlv.depth,
        })
    }

    /// The offset of the next element (or of the end) in the message.
    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The tag of the next element, if any.
    pub(super) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// The next element.
    pub(super) fn next(&mut self) -> Result<Option<Tlv<'a>>> {
        let Some(&tag) = self.data.get(self.pos) else {
            return Ok(None);
        };
        let offset = self.offset();
        if tag & 0x1f == 0x1f {
            return Err(DecodeError::at(
                DecodeErrorKind::Expected("a short tag"),
                offset,
            ));
        }
        let mut p = self.pos + 1;
        let truncated = || DecodeError::at(DecodeErrorKind::Truncated, offset);
        let first = *self.data.get(p).ok_or_else(truncated)?;
        p += 1;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x80 => {
                return Err(DecodeError::at(
                    DecodeErrorKind::Unsupported("indefinite length"),
                    offset,
                ));
            }
            _ => {
                let n = usize::from(first & 0x7f);
                if n > 4 {
                    return Err(DecodeError::at(DecodeErrorKind::TooLarge("length"), offset));
                }
                let octets = self.data.get(p..p + n).ok_or_else(truncated)?;
                p += n;
                octets.iter().fold(0usize, |a, &b| a << 8 | usize::from(b))
            }
        };
        let end = p.checked_add(len).ok_or_else(truncated)?;
        let content = self.data.get(p..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(Some(Tlv {
            tag,
            content,
            offset,
            start: self.base + p,
            depth: self.depth + 1,
        }))
    }

    /// The next element, which must have tag `tag`.
    pub(super) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>> {
        let offset = self.offset();
        match self.next()? {
            Some(tlv) if tlv.tag == tag => Ok(tlv),
            Some(tlv) => Err(DecodeError::at(DecodeErrorKind::Expected(what), tlv.offset)),
            None => Err(DecodeError::at(DecodeErrorKind::Missing(what), offset)),
        }
    }

    /// The next element if it has tag `tag` (an OPTIONAL component).
    pub(super) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.next()
        } else {
            Ok(None)
        }
    }

    /// Ends an extensible SEQUENCE whose root components have tags below `[first]`: what
    /// follows are extension additions this codec does not know (of a later version), skipped
    /// as X.680 §52.7 has a receiver do. Anything else (a repeated or out-of-order component)
    /// is an error.
    pub(super) fn skip_extensions(&mut self, first: u8) -> Result<()> {
        while let Some(e) = self.next()? {
            if e.tag & 0xc0 != 0x80 || e.tag & 0x1f < first {
                return Err(DecodeError::at(
                    DecodeErrorKind::Unexpected("a SEQUENCE"),
                    e.offset,
                ));
            }
        }
        Ok(())
    }

    /// Ends a SEQUENCE without an extension marker: nothing may follow.
    pub(super) fn end(&mut self, what: &'static str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::at(
                DecodeErrorKind::Unexpected(what),
                self.offset(),
            ))
        }
    }
}

impl<'a> Tlv<'a> {
    fn fail(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::at(kind, self.offset)
    }

    fn primitive(&self, what: &'static str) -> Result<&'a [u8]> {
        if self.tag & 0x20 != 0 {
            return Err(self.fail(DecodeErrorKind::Expected(what)));
        }
        Ok(self.content)
    }

    /// An INTEGER or ENUMERATED that must lie in `0..=max`.
    pub(super) fn unsigned(&self, what: &'static str, max: u64) -> Result<u64> {
        let c = self.primitive(what)?;
        if c.is_empty() {
            return Err(self.fail(DecodeErrorKind::Expected(what)));
        }
        if c[0] & 0x80 != 0 {
            return Err(self.fail(DecodeErrorKind::Range(what)));
        }
        // Leading zero octets are allowed (BER is not DER), but no more than 8 octets of value.
        let skip = c.iter().take_while(|&&b| b == 0).count();
        let digits = &c[skip..];
        if digits.len() > 8 {
            return Err(self.fail(DecodeErrorKind::Range(what)));
        }
        let v = digits.iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
        if v > max {
            return Err(self.fail(DecodeErrorKind::Range(what)));
        }
        Ok(v)
    }

    pub(super) fn u32(&self, what: &'static str) -> Result<u32> {
        self.unsigned(what, u64::from(u32::MAX)).map(|v| v as u32)
    }

    pub(super) fn u16(&self, what: &'static str) -> Result<u16> {
        self.unsigned(what, u64::from(u16::MAX)).map(|v| v as u16)
    }

    pub(super) fn u8(&self, what: &'static str, max: u8) -> Result<u8> {
        self.unsigned(what, u64::from(max)).map(|v| v as u8)
    }

    /// A BOOLEAN: one octet, zero for false.
    pub(super) fn boolean(&self, what: &'static str) -> Result<bool> {
        match self.primitive(what)? {
            [b] => Ok(*b != 0),
            _ => Err(self.fail(DecodeErrorKind::Expected(what))),
        }
    }

    /// A NULL: no content.
    pub(super) fn null(&self, what: &'static str) -> Result<()> {
        match self.primitive(what)? {
            [] => Ok(()),
            _ => Err(self.fail(DecodeErrorKind::Expected(what))),
        }
    }

    /// An OCTET STRING or IA5String, primitive form (OTP never segments a string).
    pub(super) fn octets(&self, what: &'static str) -> Result<&'a [u8]> {
        if self.tag & 0x20 != 0 {
            // OTP never segments a string; a constructed one is refused as unsupported.
            let _ = what;
            return Err(self.fail(DecodeErrorKind::Unsupported("constructed string")));
        }
        Ok(self.content)
    }

    /// An IA5String: ASCII.
    pub(super) fn ia5(&self, what: &'static str) -> Result<&'a str> {
        let c = self.octets(what)?;
        if !c.is_ascii() {
            return Err(self.fail(DecodeErrorKind::NotText(what)));
        }
        std::str::from_utf8(c).map_err(|_| self.fail(DecodeErrorKind::NotText(what)))
    }

    /// A named BIT STRING of up to 16 bits: bit 0 is the first (most significant) bit.
    pub(super) fn bits(&self, what: &'static str) -> Result<u16> {
        let c = self.primitive(what)?;
        let Some((&unused, bits)) = c.split_first() else {
            return Err(self.fail(DecodeErrorKind::Expected(what)));
        };
        if unused > 7 || (bits.is_empty() && unused != 0) {
            return Err(self.fail(DecodeErrorKind::Expected(what)));
        }
        // Named bits beyond the 16th are not defined; they are ignored if zero.
        if bits.iter().skip(2).any(|&b| b != 0) {
            return Err(self.fail(DecodeErrorKind::Range(what)));
        }
        let hi = bits.first().copied().unwrap_or(0);
        let lo = bits.get(1).copied().unwrap_or(0);
        Ok(u16::from_be_bytes([hi, lo]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Writer { out: &mut out });
        out
    }

    #[test]
    fn integers_take_the_fewest_octets() {
        for (v, bytes) in [
            (0u64, &[0x80, 1, 0][..]),
            (127, &[0x80, 1, 0x7f]),
            (128, &[0x80, 2, 0, 0x80]),
            (55555, &[0x80, 3, 0, 0xd9, 0x03]),
            (0xffff_fffe, &[0x80, 5, 0, 0xff, 0xff, 0xff, 0xfe]),
            (
                u64::MAX,
                &[0x80, 9, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ] {
            assert_eq!(written(|w| w.unsigned(0x80, v)), bytes, "{v}");
            let mut r = Reader::new(bytes);
            let tlv = r.next().unwrap().unwrap();
            assert_eq!(tlv.unsigned("n", u64::MAX).unwrap(), v);
        }
    }

    #[test]
    fn long_lengths_are_patched_in() {
        let out = written(|w| {
            w.constructed::<()>(0x30, |w| {
                w.primitive(0x04, &[7; 300]);
                Ok(())
            })
            .unwrap()
        });
        assert_eq!(&out[..8], &[0x30, 0x82, 0x01, 0x30, 0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(out.len(), 4 + 4 + 300);
        let mut r = Reader::new(&out);
        let outer = r.next().unwrap().unwrap();
        let mut inner = Reader::enter(outer).unwrap();
        assert_eq!(inner.next().unwrap().unwrap().content.len(), 300);
        assert!(inner.next().unwrap().is_none());
    }

    #[test]
    fn bit_strings_drop_trailing_zeros() {
        assert_eq!(written(|w| w.bits(0x80, 0x8000)), [0x80, 2, 7, 0x80]);
        assert_eq!(written(|w| w.bits(0x80, 0x2040)), [0x80, 3, 6, 0x20, 0x40]);
        assert_eq!(written(|w| w.bits(0x80, 0)), [0x80, 1, 0]);
        for bits in [0u16, 0x8000, 0x2040, 0xffc0] {
            let out = written(|w| w.bits(0x80, bits));
            let tlv = Reader::new(&out).next().unwrap().unwrap();
            assert_eq!(tlv.bits("b").unwrap(), bits);
        }
    }

    #[test]
    fn bad_lengths_are_refused() {
        for bytes in [
            &[0x30][..],
            &[0x30, 0x05, 1],
            &[0x30, 0x80, 0, 0],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x3f, 0x01, 0x00],
        ] {
            assert!(Reader::new(bytes).next().is_err(), "{bytes:02x?}");
        }
    }
}
