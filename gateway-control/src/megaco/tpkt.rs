//! TPKT framing of MEGACO messages over TCP (H.248.1 Annex D.2, RFC 1006 §6): each message
//! goes in one packet behind a four-byte header, version 3, a reserved byte 0, and the packet's
//! length in big-endian, header included:
//!
//! ```text
//! +---------+----------+----------------+----------------------+
//! | vrsn: 3 | reserved | length (16 bit, BE, incl. header)     |
//! +---------+----------+----------------+----------------------+
//! | the message (length − 4 bytes)                               ...
//! ```
//!
//! [`frame`] writes one packet; a [`Deframer`] reads them back from a byte stream that arrives
//! in arbitrary pieces. The deframer is bounded: it refuses a length below 4 or above its
//! largest message plus the header before reading the body, and holds at most
//! [`Deframer::CAPACITY`] unread bytes. After an error the stream cannot be resynchronised
//! (TPKT has no marker to look for): the caller closes the connection.

use std::collections::VecDeque;

/// The TPKT version (RFC 1006).
pub const VERSION: u8 = 3;
/// The header's size.
pub const HEADER: usize = 4;
/// The largest message one packet holds: the 16-bit length counts the header too.
pub const MAX_PAYLOAD: usize = u16::MAX as usize - HEADER;

/// Why a message could not be framed or a stream not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A message longer than [`MAX_PAYLOAD`] (or the deframer's bound), at this length.
    #[error("message of {0} bytes is too large for a TPKT")]
    TooLarge(usize),
    /// A header whose version is not 3.
    #[error("TPKT version {0}, not 3")]
    Version(u8),
    /// A header whose reserved byte is not 0.
    #[error("TPKT reserved byte {0}, not 0")]
    Reserved(u8),
    /// A header whose length is below the header's own 4 bytes.
    #[error("TPKT length {0} is shorter than its header")]
    Length(u16),
    /// More than [`Deframer::CAPACITY`] unread bytes were pushed: the reader is not draining
    /// [`Deframer::next`].
    #[error("more than {0} unread bytes")]
    Overflow(usize),
}

/// Appends `message` to `out` as one TPKT packet.
pub fn frame(message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let Ok(length) = u16::try_from(message.len() + HEADER) else {
        return Err(FrameError::TooLarge(message.len()));
    };
    out.extend_from_slice(&[VERSION, 0]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(message);
    Ok(())
}

/// Reads TPKT packets from a byte stream pushed in pieces of any size. Push what the socket
/// gave, then call [`next`](Self::next) until it returns `None`.
#[derive(Debug)]
pub struct Deframer {
    max_message: usize,
    buf: VecDeque<u8>,
    failed: bool,
    error: Option<FrameError>,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    /// Unread bytes held at most: a whole largest packet and one more read of that size.
    pub const CAPACITY: usize = 2 * (MAX_PAYLOAD + HEADER);

    /// A deframer for messages of up to [`MAX_PAYLOAD`] bytes.
    pub fn new() -> Self {
        Self::with_max(MAX_PAYLOAD)
    }

    /// A deframer for messages of up to `max_message` bytes (at most [`MAX_PAYLOAD`]); a
    /// longer one is refused from its header.
    pub fn with_max(max_message: usize) -> Self {
        Self {
            max_message: max_message.min(MAX_PAYLOAD),
            buf: VecDeque::new(),
            failed: false,
            error: None,
        }
    }

    /// Bytes held, not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether the stream failed: nothing more will be read from it.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Adds bytes read from the stream. Ignored once the stream failed; more than
    /// [`CAPACITY`](Self::CAPACITY) unread bytes fail it.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.buf.len() + bytes.len() > Self::CAPACITY {
            self.fail(FrameError::Overflow(Self::CAPACITY));
            return;
        }
        self.buf.extend(bytes);
    }

    fn fail(&mut self, e: FrameError) {
        self.failed = true;
        self.buf = VecDeque::new();
        self.error = Some(e);
    }

    /// The next whole message, `None` while one is incomplete, or the error that ended the
    /// stream (once; `None` after it).
    #[allow(clippy::should_implement_trait)] // not an iterator: `None` only means "not yet"
    pub fn next(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        if self.failed {
            return self.error.take().map(Err);
        }
        if self.buf.len() < HEADER {
            return None;
        }
        let header = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        let length = u16::from_be_bytes([header[2], header[3]]);
        let error = if header[0] != VERSION {
            Some(FrameError::Version(header[0]))
        } else if header[1] != 0 {
            Some(FrameError::Reserved(header[1]))
        } else if usize::from(length) < HEADER {
            Some(FrameError::Length(length))
        } else if usize::from(length) - HEADER > self.max_message {
            Some(FrameError::TooLarge(usize::from(length) - HEADER))
        } else {
            None
        };
        if let Some(e) = error {
            self.fail(e.clone());
            self.error = None;
            return Some(Err(e));
        }
        let length = usize::from(length);
        if self.buf.len() < length {
            return None;
        }
        self.buf.drain(..HEADER);
        Some(Ok(self.buf.drain(..length - HEADER).collect()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn framed(messages: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            frame(m, &mut out).unwrap();
        }
        out
    }

    fn drain(d: &mut Deframer) -> Vec<Result<Vec<u8>, FrameError>> {
        std::iter::from_fn(|| d.next()).collect()
    }

    #[test]
    fn frames_with_the_rfc_1006_header() {
        let mut out = vec![0xAA];
        frame(b"MEGACO/1 [192.0.2.1]:2944\n", &mut out).unwrap();
        assert_eq!(&out[..5], &[0xAA, 3, 0, 0, 30]);
        assert_eq!(&out[5..], b"MEGACO/1 [192.0.2.1]:2944\n");
        let mut empty = Vec::new();
        frame(b"", &mut empty).unwrap();
        assert_eq!(empty, [3, 0, 0, 4]);
    }

    #[test]
    fn the_largest_message_fits_and_one_more_byte_does_not() {
        let mut out = Vec::new();
        frame(&vec![b'x'; MAX_PAYLOAD], &mut out).unwrap();
        assert_eq!(&out[..4], &[3, 0, 0xFF, 0xFF]);
        assert_eq!(out.len(), 65_535);
        let mut d = Deframer::new();
        d.push(&out);
        assert_eq!(d.next().unwrap().unwrap().len(), MAX_PAYLOAD);
        let mut out = Vec::new();
        assert_eq!(
            frame(&vec![b'x'; MAX_PAYLOAD + 1], &mut out),
            Err(FrameError::TooLarge(MAX_PAYLOAD + 1))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn reads_messages_split_anywhere() {
        let stream = framed(&[b"one", b"", b"three"]);
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for b in &stream {
            assert!(d.buffered() < HEADER + 5);
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d));
        }
        let want: Vec<Result<Vec<u8>, FrameError>> =
            vec![Ok(b"one".to_vec()), Ok(Vec::new()), Ok(b"three".to_vec())];
        assert_eq!(got, want);
        assert_eq!(d.buffered(), 0);
        assert!(!d.is_failed());
    }

    #[test]
    fn the_bounds() {
        assert_eq!(MAX_PAYLOAD, 65_531);
        assert_eq!(Deframer::CAPACITY, 131_070);
        assert_eq!(Deframer::default().max_message, MAX_PAYLOAD);
    }

    #[test]
    fn an_empty_message_alone_is_read() {
        let mut d = Deframer::new();
        d.push(&[3, 0, 0, 4]);
        assert_eq!(d.next(), Some(Ok(Vec::new())));
        assert_eq!(d.next(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn an_incomplete_header_or_body_waits() {
        let mut d = Deframer::new();
        d.push(&[3, 0, 0]);
        assert_eq!(d.next(), None);
        d.push(&[7, b'a', b'b']);
        assert_eq!(d.next(), None);
        assert_eq!(d.buffered(), 6);
        d.push(b"c");
        assert_eq!(d.next(), Some(Ok(b"abc".to_vec())));
        assert_eq!(d.next(), None);
    }

    #[test]
    fn bad_headers_end_the_stream_once() {
        for (bytes, e) in [
            (&[2u8, 0, 0, 5, 0][..], FrameError::Version(2)),
            (&[3, 1, 0, 5, 0], FrameError::Reserved(1)),
            (&[3, 0, 0, 3], FrameError::Length(3)),
            (&[3, 0, 0, 0], FrameError::Length(0)),
        ] {
            let mut d = Deframer::new();
            d.push(bytes);
            assert_eq!(d.next(), Some(Err(e)), "{bytes:?}");
            assert!(d.is_failed());
            assert_eq!(d.buffered(), 0);
            assert_eq!(d.next(), None);
            d.push(&framed(&[b"ok"]));
            assert_eq!(d.next(), None);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn a_length_over_the_bound_is_refused_from_the_header() {
        let mut d = Deframer::with_max(10);
        d.push(&framed(&[b"0123456789"]));
        assert_eq!(d.next(), Some(Ok(b"0123456789".to_vec())));
        d.push(&[3, 0, 0, 15]);
        assert_eq!(d.next(), Some(Err(FrameError::TooLarge(11))));
        assert!(Deframer::with_max(usize::MAX).max_message == MAX_PAYLOAD);
    }

    #[test]
    fn a_reader_that_does_not_drain_overflows() {
        let mut d = Deframer::new();
        let chunk = vec![0u8; Deframer::CAPACITY / 2];
        d.push(&chunk);
        d.push(&chunk);
        assert!(!d.is_failed());
        assert_eq!(d.buffered(), Deframer::CAPACITY);
        d.push(&[0]);
        assert!(d.is_failed());
        assert_eq!(d.buffered(), 0);
        assert_eq!(
            d.next(),
            Some(Err(FrameError::Overflow(Deframer::CAPACITY)))
        );
        assert_eq!(d.next(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_splits_read_back_the_same_messages(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(0usize..4000, 0..12),
        ) {
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let stream = framed(&refs);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.push(0);
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut d = Deframer::new();
            let mut got = Vec::new();
            for w in cuts.windows(2) {
                d.push(&stream[w[0]..w[1]]);
                got.extend(drain(&mut d));
            }
            let want: Vec<Result<Vec<u8>, FrameError>> = messages.into_iter().map(Ok).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(d.buffered(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic_nor_exceed_the_bound(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
        ) {
            let mut d = Deframer::with_max(100);
            for c in &chunks {
                d.push(c);
                while let Some(r) = d.next() {
                    if let Ok(m) = r {
                        prop_assert!(m.len() <= 100);
                    }
                }
                prop_assert!(d.buffered() <= Deframer::CAPACITY);
            }
        }
    }
}
