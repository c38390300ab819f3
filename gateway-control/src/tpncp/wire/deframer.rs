//! Cutting a TCP byte stream into TPNCP messages.
//!
//! TPNCP has no framing of its own over TCP: each message's header says its length. The byte
//! order (needed to read that length) is known only from bytes 8–9, so a message is cut once
//! its first [`MIN_LEN`] bytes are in. A length below [`MIN_LEN`] or above [`MAX_LEN`] ends
//! the stream: there is no marker to resynchronise on, so the caller closes the connection.

use super::{ByteOrder, MAX_LEN, MIN_LEN};

/// The total length the header at the start of `head` (in `order`) announces: its `length`
/// (the total − 4) with the length extension as its high byte.
pub(super) fn announced_len(head: &[u8], order: ByteOrder) -> usize {
    (usize::from(head[6]) << 16) + usize::from(order.u16(&head[2..4])) + 4
}

/// Why a stream could not be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A header whose length says fewer bytes than a header and an id.
    #[error("TPNCP length says {0} bytes, below the {MIN_LEN} of a header and id")]
    TooShort(usize),
    /// A header whose length says more than [`MAX_LEN`] bytes.
    #[error("TPNCP length says {0} bytes, above the {MAX_LEN} accepted")]
    TooLong(usize),
    /// More than [`Deframer::CAPACITY`] unread bytes were pushed: the reader is not draining
    /// [`Deframer::next`].
    #[error("more than {0} unread bytes")]
    Overflow(usize),
}

/// Reads TPNCP messages from a byte stream pushed in pieces of any size, in either byte
/// order (each message's own). Push what the socket gave, then call
/// [`next`](Self::next) until it returns `None`.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Bytes of `buf` already returned.
    start: usize,
    failed: bool,
    error: Option<FrameError>,
}

impl Deframer {
    /// Unread bytes held at most: one largest message and one more read of that size.
    pub const CAPACITY: usize = 2 * MAX_LEN;

    /// An empty deframer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held, not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
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
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() + bytes.len() > Self::CAPACITY {
            self.fail(FrameError::Overflow(Self::CAPACITY));
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn fail(&mut self, e: FrameError) {
        self.failed = true;
        self.buf = Vec::new();
        self.start = 0;
        self.error = Some(e);
    }

    /// The next whole message, `None` while one is incomplete, or the error that ended the
    /// stream (once; `None` after it).
    #[allow(clippy::should_implement_trait)] // not an iterator: `None` only means "not yet"
    pub fn next(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        if self.failed {
            return self.error.take().map(Err);
        }
        let rest = &self.buf[self.start..];
        if rest.len() < MIN_LEN {
            return None;
        }
        let total = announced_len(rest, ByteOrder::of(rest));
        let error = if total < MIN_LEN {
            Some(FrameError::TooShort(total))
        } else if total > MAX_LEN {
            Some(FrameError::TooLong(total))
        } else {
            None
        };
        if let Some(e) = error {
            self.fail(e.clone());
            self.error = None;
            return Some(Err(e));
        }
        if rest.len() < total {
            return None;
        }
        let message = rest[..total].to_vec();
        self.start += total;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Some(Ok(message))
    }
}
