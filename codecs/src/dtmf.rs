//! RFC 4733 telephone-events: the event payload (§2.3), a [`Receiver`] that turns a packet
//! stream into one [`Detected`] digit per key press, and [`EventPackets`], the packet sequence a
//! sender emits for one key press.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! All packets of one event share its RTP timestamp (§2.5.1.1); updates carry the growing
//! duration, the final packet has the E bit and is sent three times (§2.5.1.4). Events longer
//! than 0xFFFF timestamp units are split into segments whose timestamp advances by the previous
//! segment's duration (§2.5.1.3). The receiver reports a digit on the first packet it sees of an
//! event, so a lost start packet (and its marker) delays nothing.

use core::fmt;

use thiserror::Error;
use tracing::{debug, trace};

use crate::rtp::Timestamp;

/// Length of one event payload.
pub const PAYLOAD_LEN: usize = 4;
/// Largest volume value (−63 dBm0).
pub const MAX_VOLUME: u8 = 63;

/// Errors from parsing or emitting an event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The payload is shorter than 4 bytes.
    #[error("truncated: event payload at offset 0 needs 4 bytes, has {len}")]
    Truncated {
        /// Payload length.
        len: usize,
    },
    // API misuse.
    /// `emit` was given fewer than 4 bytes.
    #[error("emit buffer is {got} bytes, event payload needs 4")]
    BufferTooShort {
        /// Buffer length.
        got: usize,
    },
    /// Volume above 63 cannot be encoded in 6 bits.
    #[error("volume {0} exceeds 63")]
    Volume(u8),
}

/// A DTMF key or hook flash (RFC 4733 §3.2 event codes 0–16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// Hook flash, event code 16.
    pub const FLASH: Self = Self(16);

    /// The digit for an event code, if it is 0–16.
    pub const fn from_event(code: u8) -> Option<Self> {
        if code <= 16 { Some(Self(code)) } else { None }
    }

    /// The digit for a key: `0-9`, `*`, `#`, `A-D` (case-insensitive).
    pub const fn from_char(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return None,
        };
        Some(Self(code))
    }

    /// The RFC 4733 event code.
    pub const fn event(self) -> u8 {
        self.0
    }

    /// The key character, or `None` for flash.
    pub const fn as_char(self) -> Option<char> {
        match self.0 {
            0..=9 => Some((b'0' + self.0) as char),
            10 => Some('*'),
            11 => Some('#'),
            12..=15 => Some((b'A' + self.0 - 12) as char),
            _ => None,
        }
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_char() {
            Some(c) => write!(f, "{c}"),
            None => f.write_str("flash"),
        }
    }
}

mod field {
    pub(super) const EVENT: usize = 0;
    pub(super) const E_R_VOLUME: usize = 1;
    pub(super) const DURATION: core::ops::Range<usize> = 2..4;
}

/// A view over an event payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer of at least 4 bytes. Bytes after the first 4 are ignored.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let len = buffer.as_ref().len();
        if len < PAYLOAD_LEN {
            return Err(Error::Truncated { len });
        }
        Ok(Self { buffer })
    }

    /// Event code.
    pub fn event(&self) -> u8 {
        self.buffer.as_ref()[field::EVENT]
    }

    /// End bit.
    pub fn end(&self) -> bool {
        self.buffer.as_ref()[field::E_R_VOLUME] & 0x80 != 0
    }

    /// Reserved bit (senders set 0, receivers ignore it).
    pub fn reserved(&self) -> bool {
        self.buffer.as_ref()[field::E_R_VOLUME] & 0x40 != 0
    }

    /// Volume in −dBm0 (0–63).
    pub fn volume(&self) -> u8 {
        self.buffer.as_ref()[field::E_R_VOLUME] & 0x3F
    }

    /// Duration in timestamp units since the event (segment) began.
    pub fn duration(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::DURATION.start], b[field::DURATION.start + 1]])
    }
}

/// High-level form of an event payload. The R bit is not kept (RFC 4733 §2.3.4: ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Event code.
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Volume in −dBm0 (0–63).
    pub volume: u8,
    /// Duration in timestamp units.
    pub duration: u16,
}

impl Repr {
    /// Parses a payload.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        Packet::new_checked(packet.buffer.as_ref())?;
        Ok(Self {
            event: packet.event(),
            end: packet.end(),
            volume: packet.volume(),
            duration: packet.duration(),
        })
    }

    /// Parses a byte slice.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// Bytes [`Self::emit`] writes: always 4.
    pub const fn buffer_len(&self) -> usize {
        PAYLOAD_LEN
    }

    /// Writes the payload into the front of `buffer`.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize, Error> {
        if self.volume > MAX_VOLUME {
            return Err(Error::Volume(self.volume));
        }
        let Some(b) = buffer.get_mut(..PAYLOAD_LEN) else {
            return Err(Error::BufferTooShort { got: buffer.len() });
        };
        b[field::EVENT] = self.event;
        b[field::E_R_VOLUME] = (u8::from(self.end) << 7) | self.volume;
        b[field::DURATION].copy_from_slice(&self.duration.to_be_bytes());
        Ok(PAYLOAD_LEN)
    }
}

/// A key press reported by the [`Receiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The key.
    pub digit: Digit,
    /// RTP timestamp of the event's start (of the first packet seen, if the start was lost).
    pub timestamp: Timestamp,
}

/// Counters for the [`Receiver`]; every dropped packet lands in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverStats {
    /// Payloads handled.
    pub packets: u64,
    /// Digits reported.
    pub digits: u64,
    /// Updates and end retransmissions of an event already reported.
    pub repeats: u64,
    /// Packets of an older event arriving after a newer one started.
    pub stale: u64,
    /// Payloads shorter than 4 bytes.
    pub malformed: u64,
    /// Event codes outside 0–16 (not DTMF or flash).
    pub unknown_events: u64,
    /// Long-event segment continuations (§2.5.1.3).
    pub segments: u64,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: Timestamp,
    event: u8,
    ended: bool,
    /// Largest duration seen in the current segment.
    duration: u16,
}

/// Slack for recognising a long-event segment continuation: 200 ms at 8 kHz of lost updates.
const SEGMENT_SLACK: u32 = 1600;

/// Turns a stream of telephone-event payloads (one RTP stream) into one digit per event.
///
/// Feed every packet of the telephone-event payload type, in arrival order, to
/// [`Receiver::handle`]. Redundant updates and end packets, late packets of a previous event,
/// and segment continuations of a long event are absorbed and counted in [`ReceiverStats`].
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    current: Option<Current>,
    stats: ReceiverStats,
}

impl Receiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters.
    pub const fn stats(&self) -> &ReceiverStats {
        &self.stats
    }

    /// Handles one packet: its marker bit, RTP timestamp and payload. Returns the digit when
    /// this packet is the first seen of a new event.
    pub fn handle(
        &mut self,
        marker: bool,
        timestamp: Timestamp,
        payload: &[u8],
    ) -> Option<Detected> {
        self.stats.packets += 1;
        let repr = match Repr::parse_bytes(payload) {
            Ok(r) => r,
            Err(error) => {
                self.stats.malformed += 1;
                debug!(%error, "dropping telephone-event payload");
                return None;
            }
        };
        let Some(digit) = Digit::from_event(repr.event) else {
            self.stats.unknown_events += 1;
            debug!(event = repr.event, "dropping unknown telephone event");
            return None;
        };
        if let Some(cur) = self.current.as_mut() {
            let distance = timestamp.distance(cur.timestamp);
            if distance == 0 {
                self.stats.repeats += 1;
                cur.ended |= repr.end;
                cur.duration = cur.duration.max(repr.duration);
                trace!(
                    event = repr.event,
                    end = repr.end,
                    duration = repr.duration,
                    "event update"
                );
                return None;
            }
            if distance < 0 {
                self.stats.stale += 1;
                debug!(
                    event = repr.event,
                    distance, "dropping packet of an older event"
                );
                return None;
            }
            let long_segment = u32::from(cur.duration) + SEGMENT_SLACK >= u32::from(u16::MAX);
            if !marker
                && !cur.ended
                && cur.event == repr.event
                && long_segment
                && (distance as u32) <= u32::from(cur.duration) + SEGMENT_SLACK
            {
                self.stats.segments += 1;
                debug!(event = repr.event, "long event continues in a new segment");
                *cur = Current {
                    timestamp,
                    event: repr.event,
                    ended: repr.end,
                    duration: repr.duration,
                };
                return None;
            }
        }
        self.current = Some(Current {
            timestamp,
            event: repr.event,
            ended: repr.end,
            duration: repr.duration,
        });
        self.stats.digits += 1;
        debug!(%digit, marker, "telephone event");
        Some(Detected { digit, timestamp })
    }
}

/// One packet of a sender's event sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit: set on the first packet of the event only.
    pub marker: bool,
    /// Added to the event's start timestamp to give this packet's RTP timestamp (non-zero only
    /// in the later segments of a long event).
    pub timestamp_offset: u32,
    /// When to send, in timestamp units after the key went down.
    pub send_at: u32,
    /// The payload.
    pub payload: Repr,
}

/// The packets a sender emits for one key press (RFC 4733 §2.5.1): a first packet with the
/// marker, an update every `interval` units, and the final duration with the E bit three
/// times, one `interval` apart. The caller assigns consecutive sequence numbers.
#[derive(Debug, Clone)]
pub struct EventPackets {
    digit: Digit,
    volume: u8,
    interval: u32,
    total: u32,
    elapsed: u32,
    segment_start: u32,
    ends_sent: u8,
    started: bool,
}

impl EventPackets {
    /// The sequence for `digit` held `duration` timestamp units, with updates every `interval`
    /// units (e.g. 400 for 50 ms at 8 kHz). `volume` is clamped to 63, `interval` to ≥ 1.
    pub fn new(digit: Digit, volume: u8, duration: u32, interval: u16) -> Self {
        Self {
            digit,
            volume: volume.min(MAX_VOLUME),
            interval: u32::from(interval.max(1)),
            total: duration.max(1),
            elapsed: 0,
            segment_start: 0,
            ends_sent: 0,
            started: false,
        }
    }

    fn packet(&self, end: bool, send_at: u32) -> EventPacket {
        let marker = !self.started;
        EventPacket {
            marker,
            timestamp_offset: self.segment_start,
            send_at,
            payload: Repr {
                event: self.digit.event(),
                end,
                volume: self.volume,
                duration: (self.elapsed - self.segment_start) as u16,
            },
        }
    }
}

impl Iterator for EventPackets {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        if self.ends_sent >= 3 {
            return None;
        }
        if self.elapsed == self.total {
            // Retransmissions of the end packet.
            let send_at = self.total + u32::from(self.ends_sent) * self.interval;
            self.ends_sent += 1;
            let p = self.packet(true, send_at);
            self.started = true;
            return Some(p);
        }
        let max_segment = u32::from(u16::MAX);
        let next = (self.elapsed + self.interval).min(self.total);
        if next - self.segment_start > max_segment {
            if self.elapsed - self.segment_start < max_segment {
                // Close the segment at the largest duration the field holds.
                self.elapsed = self.segment_start + max_segment;
                let p = self.packet(false, self.elapsed);
                self.started = true;
                return Some(p);
            }
            self.segment_start = self.elapsed;
        }
        self.elapsed = next;
        let end = self.elapsed == self.total;
        if end {
            self.ends_sent = 1;
        }
        let p = self.packet(end, self.elapsed);
        self.started = true;
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn payload_vectors() {
        // Digit 9 at −10 dBm0, duration 400: an update packet.
        let r = Repr::parse_bytes(&hex!("09 0a 0190")).unwrap();
        assert_eq!(
            r,
            Repr {
                event: 9,
                end: false,
                volume: 10,
                duration: 400
            }
        );
        // End bit with R set: R is ignored on parse and cleared on emit.
        let p = Packet::new_checked(&hex!("0b ca 0640")[..]).unwrap();
        assert!(p.end() && p.reserved());
        let r = Repr::parse(&p).unwrap();
        assert_eq!((r.event, r.end, r.volume, r.duration), (11, true, 10, 1600));
        let mut out = [0u8; 4];
        r.emit(&mut out).unwrap();
        assert_eq!(out, hex!("0b 8a 0640"));
        assert_eq!(
            Repr::parse_bytes(&[1, 2, 3]),
            Err(Error::Truncated { len: 3 })
        );
        assert_eq!(
            Repr { volume: 64, ..r }.emit(&mut out),
            Err(Error::Volume(64))
        );
        assert_eq!(r.emit(&mut [0; 3]), Err(Error::BufferTooShort { got: 3 }));
    }

    #[test]
    fn digits_map_to_rfc4733_codes() {
        let keys = "0123456789*#ABCD";
        for (code, c) in keys.chars().enumerate() {
            let d = Digit::from_char(c).unwrap();
            assert_eq!(d.event(), code as u8);
            assert_eq!(d.as_char(), Some(c));
            assert_eq!(Digit::from_event(code as u8), Some(d));
        }
        assert_eq!(Digit::from_event(16), Some(Digit::FLASH));
        assert_eq!(Digit::FLASH.as_char(), None);
        assert_eq!(Digit::FLASH.to_string(), "flash");
        assert_eq!(Digit::from_event(17), None);
        assert_eq!(Digit::from_char('x'), None);
    }

    #[test]
    fn sender_sequence_for_a_short_press() {
        // 100 ms at 8 kHz with 50 ms updates: 400, 800(E), 800(E), 800(E).
        let pkts: Vec<_> =
            EventPackets::new(Digit::from_char('1').unwrap(), 10, 800, 400).collect();
        assert_eq!(pkts.len(), 4);
        assert!(pkts[0].marker);
        assert!(pkts[1..].iter().all(|p| !p.marker));
        let durs: Vec<_> = pkts
            .iter()
            .map(|p| (p.payload.duration, p.payload.end))
            .collect();
        assert_eq!(
            durs,
            vec![(400, false), (800, true), (800, true), (800, true)]
        );
        let sends: Vec<_> = pkts.iter().map(|p| p.send_at).collect();
        assert_eq!(sends, vec![400, 800, 1200, 1600]);
        assert!(pkts.iter().all(|p| p.timestamp_offset == 0));
        let mut buf = [0u8; 4];
        pkts[1].payload.emit(&mut buf).unwrap();
        assert_eq!(buf, hex!("01 8a 0320"));
    }

    #[test]
    fn sender_splits_long_events_into_segments() {
        // 10 s at 8 kHz = 80000 units > 65535.
        let pkts: Vec<_> =
            EventPackets::new(Digit::from_char('#').unwrap(), 0, 80_000, 400).collect();
        let first_seg_last = pkts.iter().rfind(|p| p.timestamp_offset == 0).unwrap();
        assert_eq!(first_seg_last.payload.duration, u16::MAX);
        assert!(!first_seg_last.payload.end);
        let last = pkts.last().unwrap();
        assert_eq!(last.timestamp_offset, 65_535);
        assert_eq!(last.payload.duration as u32, 80_000 - 65_535);
        assert_eq!(pkts.iter().filter(|p| p.payload.end).count(), 3);
    }

    /// Runs sender sequences for `keys` (100 ms press, 100 ms gap) through a receiver,
    /// letting `mangle` drop, repeat or reorder packets.
    fn press(
        keys: &str,
        duration: u32,
        mangle: impl Fn(Vec<(bool, Timestamp, [u8; 4])>) -> Vec<(bool, Timestamp, [u8; 4])>,
    ) -> (String, ReceiverStats) {
        let mut stream = Vec::new();
        let mut start = 0x1234_5678u32;
        for c in keys.chars() {
            let digit = Digit::from_char(c).unwrap_or(Digit::FLASH);
            for p in EventPackets::new(digit, 10, duration, 160) {
                let mut b = [0u8; 4];
                p.payload.emit(&mut b).unwrap();
                stream.push((
                    p.marker,
                    Timestamp(start.wrapping_add(p.timestamp_offset)),
                    b,
                ));
            }
            start = start.wrapping_add(duration + 800);
        }
        let mut rx = Receiver::new();
        let mut out = String::new();
        for (m, ts, b) in mangle(stream) {
            if let Some(d) = rx.handle(m, ts, &b) {
                out.push(d.digit.as_char().unwrap_or('F'));
            }
        }
        (out, *rx.stats())
    }

    #[test]
    fn receiver_reports_one_digit_per_event() {
        let (digits, stats) = press("55#A", 800, |s| s);
        assert_eq!(digits, "55#A");
        assert_eq!(stats.digits, 4);
        // 5 updates + 2 end retransmissions per key, minus the first.
        assert_eq!(stats.repeats, 4 * 6);
    }

    #[test]
    fn receiver_survives_lost_start_and_duplicates() {
        let (digits, _) = press("123", 800, |s| {
            s.into_iter()
                .filter(|(m, _, _)| !m) // every start packet lost
                .flat_map(|p| [p, p]) // and every other packet duplicated
                .collect()
        });
        assert_eq!(digits, "123");
    }

    #[test]
    fn receiver_ignores_stale_packets_of_previous_event() {
        let (digits, stats) = press("78", 800, |mut s| {
            // Move the last end packet of '7' after the first packet of '8'.
            let end7 = s.remove(6);
            s.insert(8, end7);
            s
        });
        assert_eq!(digits, "78");
        assert_eq!(stats.stale, 1);
    }

    #[test]
    fn receiver_joins_long_event_segments() {
        let (digits, stats) = press("0", 80_000, |s| s);
        assert_eq!(digits, "0");
        assert_eq!(stats.segments, 1);
        let (digits, _) = press("00", 80_000, |s| s);
        assert_eq!(digits, "00");
    }

    #[test]
    fn receiver_handles_flash_and_counts_bad_input() {
        let (digits, _) = press("!", 800, |s| s);
        assert_eq!(digits, "F");
        let mut rx = Receiver::new();
        assert_eq!(rx.handle(true, Timestamp(0), &[1, 2]), None);
        assert_eq!(rx.handle(true, Timestamp(0), &hex!("20 0a 00a0")), None);
        assert_eq!(rx.stats().malformed, 1);
        assert_eq!(rx.stats().unknown_events, 1);
    }

    proptest! {
        #[test]
        fn each_key_is_reported_once_despite_loss_and_duplicates(
            keys in "[0-9*#A-D]{1,8}",
            duration in 160u32..4000,
            actions in proptest::collection::vec(0u8..3, 1..64),
        ) {
            let (digits, _) = press(&keys, duration, |s| {
                let mut out = Vec::new();
                for (i, p) in s.iter().enumerate() {
                    // Keep at least the last packet of each event.
                    let last_of_event = s.get(i + 1).is_none_or(|n| n.1 != p.1);
                    match actions[i % actions.len()] {
                        1 if !last_of_event => {}
                        2 => out.extend([*p, *p]),
                        _ => out.push(*p),
                    }
                }
                out
            });
            prop_assert_eq!(digits, keys);
        }

        #[test]
        fn payload_round_trips(event: u8, end: bool, volume in 0u8..=63, duration: u16) {
            let r = Repr { event, end, volume, duration };
            let mut b = [0u8; 4];
            prop_assert_eq!(r.emit(&mut b), Ok(4));
            prop_assert_eq!(Repr::parse_bytes(&b), Ok(r));
        }

        #[test]
        fn sender_durations_never_decrease_within_a_segment(dur in 1u32..200_000, interval in 1u16..2000) {
            let pkts: Vec<_> = EventPackets::new(Digit::FLASH, 5, dur, interval).collect();
            prop_assert_eq!(pkts.iter().filter(|p| p.payload.end).count(), 3);
            prop_assert!(pkts[0].marker);
            for w in pkts.windows(2) {
                if w[0].timestamp_offset == w[1].timestamp_offset {
                    prop_assert!(w[1].payload.duration >= w[0].payload.duration);
                }
            }
            let last = pkts.last().unwrap();
            prop_assert_eq!(last.timestamp_offset + u32::from(last.payload.duration), dur);
        }
    }
}
