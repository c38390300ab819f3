//! G.711 µ-law and A-law (ITU-T G.711), bit-exact with the ITU-T G.191 reference `g711.c`.
//!
//! The reference (`ulaw_compress`, `alaw_compress`) works on 16-bit left-justified samples,
//! truncates (no rounding) and takes the one's complement of negative inputs before companding.
//! sox rounds instead and so differs on a few thousand samples per 10 s of speech; we follow G.191.
//!
//! Decoding reads 256-entry tables built at compile time from the G.191 expansion formulas.
//! Encoding uses the segment search of the reference rewritten with `leading_zeros`; the tests
//! check it against a line-by-line transcription of the reference on all 65536 inputs.
//!
//! The slice functions never allocate and never panic: a short output buffer is an
//! [`Error::OutputTooShort`].

use thiserror::Error;

/// µ-law code for silence (positive zero).
pub const ULAW_SILENCE: u8 = 0xFF;
/// A-law code for silence (the smallest positive value, as G.191 encodes 0).
pub const ALAW_SILENCE: u8 = 0xD5;

/// Errors from the slice functions. Only API misuse is possible: any input bytes are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The output slice is shorter than the input (API misuse).
    #[error("output buffer holds {got} samples, input has {needed}")]
    OutputTooShort {
        /// Samples in the input.
        needed: usize,
        /// Room in the output.
        got: usize,
    },
}

/// Which G.711 companding law a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, RTP static payload type 0).
    Ulaw,
    /// A-law (PCMA, RTP static payload type 8).
    Alaw,
}

impl Law {
    /// The RTP static payload type (RFC 3551 §6): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Self::Ulaw => 0,
            Self::Alaw => 8,
        }
    }

    /// The law for an RTP static payload type, if it is 0 or 8.
    pub const fn from_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(Self::Ulaw),
            8 => Some(Self::Alaw),
            _ => None,
        }
    }

    /// The code that decodes to silence.
    pub const fn silence(self) -> u8 {
        match self {
            Self::Ulaw => ULAW_SILENCE,
            Self::Alaw => ALAW_SILENCE,
        }
    }

    /// Encodes one sample.
    #[inline]
    pub fn encode_sample(self, x: i16) -> u8 {
        match self {
            Self::Ulaw => ulaw_encode_sample(x),
            Self::Alaw => alaw_encode_sample(x),
        }
    }

    /// Decodes one code.
    #[inline]
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Self::Ulaw => ulaw_decode_sample(code),
            Self::Alaw => alaw_decode_sample(code),
        }
    }

    /// Encodes `pcm` into the front of `out`; see [`encode_ulaw`].
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        match self {
            Self::Ulaw => encode_ulaw(pcm, out),
            Self::Alaw => encode_alaw(pcm, out),
        }
    }

    /// Decodes `codes` into the front of `out`; see [`decode_ulaw`].
    pub fn decode(self, codes: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        match self {
            Self::Ulaw => decode_ulaw(codes, out),
            Self::Alaw => decode_alaw(codes, out),
        }
    }
}

/// G.191 `ulaw_expand` for one code.
const fn ulaw_expand(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let mantissa = !code as i32;
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

/// G.191 `alaw_expand` for one code.
const fn alaw_expand(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let iexp = ix >> 4;
    let mut mant = ix & 0x0F;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 0x08;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_expand(i as u8)
        } else {
            ulaw_expand(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law decoding table, indexed by code.
pub static ULAW_TO_LINEAR: [i16; 256] = build_table(false);
/// A-law decoding table, indexed by code.
pub static ALAW_TO_LINEAR: [i16; 256] = build_table(true);

/// Encodes one 16-bit sample to µ-law as G.191 `ulaw_compress` does.
#[inline]
pub fn ulaw_encode_sample(x: i16) -> u8 {
    // One's complement for negatives, then drop to 14 bits and add the bias of 33.
    let mag = if x < 0 { !x } else { x } as u16;
    let absno = ((mag >> 2) + 33).min(0x1FFF);
    // Segment number is one more than the bit length of absno >> 6 (the reference's loop).
    let segno = 1 + (16 - (absno >> 6).leading_zeros()) as u16;
    let high = 8 - segno;
    let low = 0x0F - ((absno >> segno) & 0x0F);
    let code = ((high << 4) | low) as u8;
    if x >= 0 { code | 0x80 } else { code }
}

/// Encodes one 16-bit sample to A-law as G.191 `alaw_compress` does.
#[inline]
pub fn alaw_encode_sample(x: i16) -> u8 {
    // One's complement for negatives, then drop to 12 bits of magnitude.
    let ix = (if x < 0 { !x } else { x } as u16) >> 4;
    let code = if ix > 15 {
        // Exponent is the bit length minus 4; the mantissa is the 4 bits under the leading one.
        let iexp = (16 - ix.leading_zeros()) as u16 - 4;
        ((ix >> (iexp - 1)) & 0x0F) | (iexp << 4)
    } else {
        ix
    };
    let code = if x >= 0 { code | 0x80 } else { code };
    (code ^ 0x55) as u8
}

/// Decodes one µ-law code.
#[inline]
pub fn ulaw_decode_sample(code: u8) -> i16 {
    ULAW_TO_LINEAR[code as usize]
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode_sample(code: u8) -> i16 {
    ALAW_TO_LINEAR[code as usize]
}

fn check_len(needed: usize, got: usize) -> Result<(), Error> {
    if got < needed {
        Err(Error::OutputTooShort { needed, got })
    } else {
        Ok(())
    }
}

/// Encodes `pcm` to µ-law into `out[..pcm.len()]` and returns `pcm.len()`.
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
    check_len(pcm.len(), out.len())?;
    for (o, &x) in out.iter_mut().zip(pcm) {
        *o = ulaw_encode_sample(x);
    }
    Ok(pcm.len())
}

/// Encodes `pcm` to A-law into `out[..pcm.len()]` and returns `pcm.len()`.
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
    check_len(pcm.len(), out.len())?;
    for (o, &x) in out.iter_mut().zip(pcm) {
        *o = alaw_encode_sample(x);
    }
    Ok(pcm.len())
}

/// Decodes µ-law `codes` into `out[..codes.len()]` and returns `codes.len()`.
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) -> Result<usize, Error> {
    check_len(codes.len(), out.len())?;
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = ULAW_TO_LINEAR[c as usize];
    }
    Ok(codes.len())
}

/// Decodes A-law `codes` into `out[..codes.len()]` and returns `codes.len()`.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) -> Result<usize, Error> {
    check_len(codes.len(), out.len())?;
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = ALAW_TO_LINEAR[c as usize];
    }
    Ok(codes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent transcription of G.191 `ulaw_compress` (loop form, as in g711.c).
    fn ref_ulaw_compress(x: i16) -> u8 {
        let x = x as i32;
        let mut absno: i32 = if x < 0 {
            ((!x) >> 2) + 33
        } else {
            (x >> 2) + 33
        };
        if absno > 0x1FFF {
            absno = 0x1FFF;
        }
        let mut i = absno >> 6;
        let mut segno = 1;
        while i != 0 {
            segno += 1;
            i >>= 1;
        }
        let high_nibble = 0x0008 - segno;
        let mut low_nibble = (absno >> segno) & 0x000F;
        low_nibble = 0x000F - low_nibble;
        let mut out = (high_nibble << 4) | low_nibble;
        if x >= 0 {
            out |= 0x0080;
        }
        out as u8
    }

    /// Independent transcription of G.191 `alaw_compress`.
    fn ref_alaw_compress(x: i16) -> u8 {
        let x = x as i32;
        let mut ix: i32 = if x < 0 { (!x) >> 4 } else { x >> 4 };
        if ix > 15 {
            let mut iexp = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if x >= 0 {
            ix |= 0x0080;
        }
        (ix ^ 0x0055) as u8
    }

    #[test]
    fn ulaw_encode_matches_reference_on_every_input() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode_sample(x), ref_ulaw_compress(x), "x = {x}");
        }
    }

    #[test]
    fn alaw_encode_matches_reference_on_every_input() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(alaw_encode_sample(x), ref_alaw_compress(x), "x = {x}");
        }
    }

    #[test]
    fn ulaw_round_trips_every_code_but_negative_zero() {
        for b in 0..=255u8 {
            let back = ulaw_encode_sample(ulaw_decode_sample(b));
            if b == 0x7F {
                // Negative zero decodes to 0, which encodes as positive zero.
                assert_eq!(ulaw_decode_sample(0x7F), 0);
                assert_eq!(ulaw_decode_sample(0xFF), 0);
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, b, "code {b:#04x}");
            }
        }
    }

    #[test]
    fn alaw_round_trips_every_code() {
        for b in 0..=255u8 {
            assert_eq!(
                alaw_encode_sample(alaw_decode_sample(b)),
                b,
                "code {b:#04x}"
            );
        }
    }

    #[test]
    fn known_vectors() {
        // Extremes and zero, from the G.711 tables.
        assert_eq!(ulaw_decode_sample(0x80), 32124);
        assert_eq!(ulaw_decode_sample(0x00), -32124);
        assert_eq!(ulaw_decode_sample(0xFE), 8);
        assert_eq!(ulaw_encode_sample(0), 0xFF);
        assert_eq!(ulaw_encode_sample(-1), 0x7F);
        assert_eq!(ulaw_encode_sample(i16::MAX), 0x80);
        assert_eq!(ulaw_encode_sample(i16::MIN), 0x00);
        assert_eq!(alaw_decode_sample(0xAA), 32256);
        assert_eq!(alaw_decode_sample(0x2A), -32256);
        assert_eq!(alaw_decode_sample(0xD5), 8);
        assert_eq!(alaw_decode_sample(0x55), -8);
        assert_eq!(alaw_encode_sample(0), 0xD5);
        assert_eq!(alaw_encode_sample(-1), 0x55);
        assert_eq!(alaw_encode_sample(i16::MAX), 0xAA);
        assert_eq!(ULAW_TO_LINEAR[ULAW_SILENCE as usize], 0);
    }

    #[test]
    fn tables_are_odd_symmetric() {
        for b in 0..128u8 {
            assert_eq!(
                ULAW_TO_LINEAR[b as usize],
                -ULAW_TO_LINEAR[(b | 0x80) as usize]
            );
            assert_eq!(
                ALAW_TO_LINEAR[b as usize],
                -ALAW_TO_LINEAR[(b | 0x80) as usize]
            );
        }
    }

    #[test]
    fn slices_convert_and_reject_short_output() {
        let pcm = [0i16, 1000, -1000, 32767, -32768];
        let mut codes = [0u8; 5];
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(law.encode(&pcm, &mut codes), Ok(5));
            let mut back = [0i16; 5];
            assert_eq!(law.decode(&codes, &mut back), Ok(5));
            for (a, b) in pcm.iter().zip(back) {
                assert_eq!(law.encode_sample(*a), law.encode_sample(b));
            }
            assert_eq!(
                law.encode(&pcm, &mut [0u8; 4]),
                Err(Error::OutputTooShort { needed: 5, got: 4 })
            );
            assert_eq!(
                law.decode(&codes, &mut [0i16; 3]),
                Err(Error::OutputTooShort { needed: 5, got: 3 })
            );
        }
        assert_eq!(Law::from_payload_type(8), Some(Law::Alaw));
        assert_eq!(Law::from_payload_type(9), None);
    }
}
