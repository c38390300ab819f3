//! One session's intercom streams: the buffers' wire format ([`Portion`]) and the plain state
//! machine that checks order, count and duration ([`Streams`]).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::recorder::Recorder;
use crate::events::LiveStreamId;
use crate::metrics::Reject;

/// Samples per second of intercom audio.
pub const SAMPLE_RATE: u32 = 8000;
/// Longest buffer accepted.
pub const MAX_BUFFER_MS: u64 = 1000;
/// Largest decoded `pcm`, in bytes.
pub const MAX_PCM_BYTES: usize = (MAX_BUFFER_MS as usize) * (SAMPLE_RATE as usize) / 1000 * 2;
/// Longest `stream` id, in hex digits.
pub const MAX_STREAM_ID: usize = 32;
/// Streams one session may have open at once.
pub const MAX_STREAMS: usize = 4;
/// Recipients of one stream.
pub const MAX_RECIPIENTS: usize = 64;

/// The tag a client gives its intercom stream (1 to [`MAX_STREAM_ID`] hex digits), unique
/// among its session's open streams. Not a [`crate::LiveStreamId`], the core's id for a stream
/// played to phones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamTag(String);

impl StreamTag {
    /// Parses a stream id: 1 to [`MAX_STREAM_ID`] hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_STREAM_ID && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(s.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One buffer of a stream, as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Portion {
    /// Its stream.
    pub stream: StreamTag,
    /// Its place in the stream, from 0.
    pub seq: u64,
    /// Recipient usernames (needed on the first buffer only).
    pub to: Option<Vec<String>>,
    /// The audio as received (base64), forwarded as is.
    pub pcm_b64: String,
    /// The audio.
    pub pcm: Vec<i16>,
    /// The last buffer.
    pub end: bool,
}

impl Portion {
    /// Parses a `send` object. Size limits are checked before decoding.
    pub fn parse(object: &Value) -> Result<Self, Error> {
        let malformed = |field, reason: &str| Error::Malformed {
            field,
            reason: reason.to_owned(),
        };
        let stream = object
            .get("stream")
            .and_then(Value::as_str)
            .and_then(StreamTag::parse)
            .ok_or_else(|| malformed("stream", "must be 1 to 32 hex digits"))?;
        let seq = object
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("seq", "must be a non-negative integer"))?;
        let to = match object.get("to") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) if list.len() <= MAX_RECIPIENTS => Some(
                list.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| malformed("to", "must be a list of usernames"))?,
            ),
            Some(_) => return Err(malformed("to", "must be a list of at most 64 usernames")),
        };
        let pcm_b64 = match object.get("pcm") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(malformed("pcm", "must be a base64 string")),
        };
        // Base64 carries 3 bytes in 4 characters: refuse before decoding anything large.
        if pcm_b64.len() > MAX_PCM_BYTES.div_ceil(3) * 4 {
            return Err(Error::TooBig {
                bytes: pcm_b64.len() / 4 * 3,
            });
        }
        let bytes = BASE64
            .decode(pcm_b64.as_bytes())
            .map_err(|e| malformed("pcm", &format!("not base64: {e}")))?;
        if bytes.len() > MAX_PCM_BYTES {
            return Err(Error::TooBig { bytes: bytes.len() });
        }
        if bytes.len() % 2 != 0 {
            return Err(malformed("pcm", "odd number of bytes: not 16-bit samples"));
        }
        let pcm = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let end = match object.get("end") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(malformed("end", "must be a boolean")),
        };
        Ok(Self {
            stream,
            seq,
            to,
            pcm_b64,
            pcm,
            end,
        })
    }

    /// Its duration in milliseconds (rounded down).
    pub fn ms(&self) -> u64 {
        self.pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// Why a buffer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// A field is missing or invalid.
    #[error("object.{field} {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `pcm` is over [`MAX_PCM_BYTES`].
    #[error("pcm holds {bytes} bytes; a buffer holds at most {MAX_PCM_BYTES} ({MAX_BUFFER_MS} ms)")]
    TooBig {
        /// Its size.
        bytes: usize,
    },
    // ---- peer protocol violations ----
    /// `seq` is not the next one.
    #[error("seq {got} out of order: expected {expected}")]
    OutOfOrder {
        /// The one expected.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// A new stream while [`MAX_STREAMS`] are open.
    #[error("too many open streams: at most {MAX_STREAMS} per session")]
    TooManyStreams,
    /// The stream reached `messages.max_duration`; it was ended and stored without this buffer.
    #[error("stream longer than {max_ms} ms: ended and stored without this buffer")]
    TooLong {
        /// The limit.
        max_ms: u64,
    },
    /// A recipient that does not exist.
    #[error("unknown recipient {0:?}")]
    UnknownRecipient(String),
    /// Audio sent faster than real time, beyond [`BURST_MS`] ahead: this buffer is dropped
    /// (the stream goes on at the next `seq`).
    #[error("audio sent faster than real time (more than {BURST_MS} ms ahead): buffer dropped")]
    TooFast,
    /// A new stream while the sender's messages hold their whole storage quota.
    #[error("{0}")]
    OverQuota(crate::limits::OverQuota),
    /// A new stream while the appliance's disk is down to its reserve.
    #[error("{0}")]
    DiskFull(crate::limits::DiskFull),
}

/// How far ahead of real time a stream's audio may run (a client catching up after a network
/// stall sends a burst); beyond it buffers are dropped, so that no one can push minutes of
/// audio a second to the recipients.
pub const BURST_MS: u64 = 2000;

impl Error {
    /// The `/metrics` kind it counts as.
    pub fn reject(&self) -> Reject {
        match self {
            Self::Malformed { .. } => Reject::IntercomMalformed,
            Self::TooBig { .. } => Reject::IntercomTooBig,
            Self::OutOfOrder { .. } => Reject::IntercomOutOfOrder,
            Self::TooManyStreams => Reject::IntercomTooManyStreams,
            Self::TooLong { .. } => Reject::IntercomTooLong,
            Self::UnknownRecipient(_) => Reject::UnknownRecipient,
            Self::TooFast => Reject::IntercomTooFast,
            Self::OverQuota(_) => Reject::OverQuota,
            Self::DiskFull(_) => Reject::DiskFull,
        }
    }
}

/// An open stream.
#[derive(Debug)]
pub struct Stream {
    pub(super) recipients: Vec<Uuid>,
    pub(super) next_seq: u64,
    pub(super) frames: u64,
    /// When the first buffer came (the core's clock, ms).
    pub(super) started_ms: i64,
    pub(super) recorder: Recorder,
    /// The stream as the recipients' phones play it (rung, buffered, then live), if any of
    /// them has a phone.
    pub(super) phones: Option<LiveStreamId>,
}

/// What [`Streams::check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The first buffer of a new stream, to these usernames (to be resolved).
    Open(Vec<String>),
    /// The next buffer of an open stream.
    Next,
}

/// One session's open streams (the plain state machine; [`super::handle`] drives it), and the ended
/// ones still being stored.
#[derive(Debug)]
pub struct Streams {
    pub(super) open: HashMap<StreamTag, Stream>,
    max_frames: u64,
    pub(super) storing: JoinSet<()>,
}

impl Streams {
    /// No streams; each may last `max_ms`.
    pub fn new(max_ms: u64) -> Self {
        Self {
            open: HashMap::new(),
            max_frames: max_ms.saturating_mul(u64::from(SAMPLE_RATE)) / 1000,
            storing: JoinSet::new(),
        }
    }

    /// Checks a buffer against the open streams, without changing them.
    pub fn check(&self, p: &Portion) -> Result<Check, Error> {
        let Some(s) = self.open.get(&p.stream) else {
            if p.seq != 0 {
                return Err(Error::OutOfOrder {
                    expected: 0,
                    got: p.seq,
                });
            }
            if self.open.len() >= MAX_STREAMS {
                return Err(Error::TooManyStreams);
            }
            let mut to = match &p.to {
                Some(to) if !to.is_empty() => to.clone(),
                _ => {
                    return Err(Error::Malformed {
                        field: "to",
                        reason: "must name the recipients on a stream's first buffer".into(),
                    });
                }
            };
            to.sort();
            to.dedup();
            return Ok(Check::Open(to));
        };
        if p.seq != s.next_seq {
            return Err(Error::OutOfOrder {
                expected: s.next_seq,
                got: p.seq,
            });
        }
        Ok(Check::Next)
    }

    pub(super) fn admit(&mut self, p: &Portion, now_ms: i64) -> Result<&mut Stream, Error> {
        let max_frames = self.max_frames;
        let Some(s) = self.open.get_mut(&p.stream) else {
            return Err(Error::OutOfOrder {
                expected: 0,
                got: p.seq,
            });
        };
        if s.frames + p.pcm.len() as u64 > max_frames {
            return Err(Error::TooLong {
                max_ms: max_frames * 1000 / u64::from(SAMPLE_RATE),
            });
        }
        let elapsed = u64::try_from(now_ms.saturating_sub(s.started_ms)).unwrap_or(0);
        let allowed = elapsed.saturating_add(BURST_MS) * u64::from(SAMPLE_RATE) / 1000;
        if s.frames + p.pcm.len() as u64 > allowed {
            s.next_seq += 1;
            return Err(Error::TooFast);
        }
        s.next_seq += 1;
        s.frames += p.pcm.len() as u64;
        Ok(s)
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn portion(stream: &str, seq: u64, to: Option<&[&str]>, samples: usize) -> Value {
        let bytes: Vec<u8> = (0..samples)
            .flat_map(|i| (i as i16).to_le_bytes())
            .collect();
        let mut o = json!({"stream": stream, "seq": seq, "pcm": BASE64.encode(bytes)});
        if let Some(to) = to {
            o["to"] = json!(to);
        }
        o
    }

    #[test]
    fn parses_a_buffer() {
        let p = Portion::parse(&portion("AB01", 0, Some(&["bob"]), 160)).unwrap();
        assert_eq!(p.stream.as_str(), "ab01");
        assert_eq!(p.seq, 0);
        assert_eq!(p.to, Some(vec!["bob".to_owned()]));
        assert_eq!(p.pcm.len(), 160);
        assert_eq!(p.pcm[3], 3);
        assert_eq!(p.ms(), 20);
        assert!(!p.end);
    }

    #[test]
    fn refuses_bad_buffers() {
        let bad = |o: Value| Portion::parse(&o).unwrap_err();
        assert!(matches!(
            bad(json!({"seq": 0})),
            Error::Malformed {
                field: "stream",
                ..
            }
        ));
        assert!(matches!(
            bad(json!({"stream": "xyz", "seq": 0})),
            Error::Malformed {
                field: "stream",
                ..
            }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": -1})),
            Error::Malformed { field: "seq", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": "!!!"})),
            Error::Malformed { field: "pcm", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": "AA=="})),
            Error::Malformed { field: "pcm", .. }
        ));
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "to": "bob"})),
            Error::Malformed { field: "to", .. }
        ));
        assert!(matches!(
            bad(portion("a", 0, None, MAX_PCM_BYTES / 2 + 1)),
            Error::TooBig { .. }
        ));
        let huge = "A".repeat(1 << 20);
        assert!(matches!(
            bad(json!({"stream": "a", "seq": 0, "pcm": huge})),
            Error::TooBig { .. }
        ));
        assert!(Portion::parse(&portion("a", 0, None, MAX_PCM_BYTES / 2)).is_ok());
    }

    #[tokio::test]
    async fn checks_order_count_and_duration() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Streams::new(50);
        let first = Portion::parse(&portion("a", 0, Some(&["bob", "bob"]), 160)).unwrap();
        assert_eq!(s.check(&first), Ok(Check::Open(vec!["bob".into()])));
        let no_to = Portion::parse(&portion("b", 0, None, 160)).unwrap();
        assert!(matches!(
            s.check(&no_to),
            Err(Error::Malformed { field: "to", .. })
        ));
        let late = Portion::parse(&portion("b", 3, Some(&["bob"]), 160)).unwrap();
        assert_eq!(
            s.check(&late),
            Err(Error::OutOfOrder {
                expected: 0,
                got: 3
            })
        );
        s.open.insert(
            first.stream.clone(),
            Stream {
                recipients: vec![],
                next_seq: 0,
                frames: 0,
                started_ms: 0,
                recorder: Recorder::start(dir.path().join("a.wav")),
                phones: None,
            },
        );
        assert!(s.admit(&first, 0).is_ok());
        let again = Portion::parse(&portion("a", 0, None, 160)).unwrap();
        assert_eq!(
            s.check(&again),
            Err(Error::OutOfOrder {
                expected: 1,
                got: 0
            })
        );
        let next = Portion::parse(&portion("a", 1, None, 160)).unwrap();
        assert_eq!(s.check(&next), Ok(Check::Next));
        assert!(s.admit(&next, 0).is_ok());
        // 40 ms of a 50 ms limit are in: 20 more is too long.
        let over = Portion::parse(&portion("a", 2, None, 160)).unwrap();
        assert_eq!(
            s.admit(&over, 0).unwrap_err(),
            Error::TooLong { max_ms: 50 }
        );
        for i in 1..MAX_STREAMS {
            let id = StreamTag::parse(&format!("{i:x}0")).unwrap();
            s.open.insert(
                id,
                Stream {
                    recipients: vec![],
                    next_seq: 0,
                    frames: 0,
                    started_ms: 0,
                    recorder: Recorder::start(dir.path().join(format!("{i}.wav"))),
                    phones: None,
                },
            );
        }
        let fifth = Portion::parse(&portion("ff", 0, Some(&["bob"]), 0)).unwrap();
        assert_eq!(s.check(&fifth), Err(Error::TooManyStreams));
        assert_eq!(s.len(), MAX_STREAMS);
    }

    #[tokio::test]
    async fn audio_runs_at_most_a_burst_ahead_of_real_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Streams::new(600_000);
        let tag = StreamTag::parse("a").unwrap();
        s.open.insert(
            tag,
            Stream {
                recipients: vec![],
                next_seq: 0,
                frames: 0,
                started_ms: 1_000,
                recorder: Recorder::start(dir.path().join("a.wav")),
                phones: None,
            },
        );
        // 20 ms buffers (160 samples): a burst of BURST_MS goes at once ...
        let buffer = |seq| Portion::parse(&portion("a", seq, None, 160)).unwrap();
        let burst = BURST_MS / 20;
        for seq in 0..burst {
            assert!(
                s.admit(&buffer(seq), 1_000).is_ok(),
                "buffer {seq} of the burst"
            );
        }
        // ... the next is dropped, and the stream goes on at the next seq ...
        assert_eq!(s.admit(&buffer(burst), 1_000).unwrap_err(), Error::TooFast);
        assert_eq!(s.check(&buffer(burst + 1)), Ok(Check::Next));
        // ... which real time lets in: 20 ms later, 20 ms more.
        assert_eq!(
            s.admit(&buffer(burst + 1), 1_019).unwrap_err(),
            Error::TooFast
        );
        assert!(s.admit(&buffer(burst + 2), 1_020).is_ok());
        assert_eq!(Error::TooFast.reject(), Reject::IntercomTooFast);
    }
}
