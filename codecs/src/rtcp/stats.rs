//! Receiver statistics for one source: sequence validation and extended highest sequence
//! number (RFC 3550 A.1), cumulative and fractional loss (A.3), interarrival jitter (A.8), and
//! LSR/DLSR (§6.4.1). Time is an input: arrival instants come from the caller.

use std::time::{Duration, Instant};

use tracing::debug;

use super::ReportBlock;
use crate::rtp::{SequenceNumber, Ssrc, Timestamp};

/// A 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The middle 32 bits, as carried in LSR (§6.4.1).
    pub const fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// Reception statistics for one source, producing RTCP report blocks.
///
/// Call [`Self::handle_rtp`] for every RTP packet of the source with its arrival time,
/// [`Self::handle_sender_report`] for every SR from it, and [`Self::report_block`] when
/// sending a report. A new source is on probation until two packets arrive in sequence
/// (A.1), so the first packet is not counted.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: Ssrc,
    clock_rate: u32,
    // A.1
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    started: bool,
    /// Packets rejected by A.1 (probation, large jumps).
    rejected: u64,
    // A.8
    epoch: Option<Instant>,
    transit: Option<u32>,
    jitter_q4: u32,
    // LSR/DLSR
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for `ssrc`, whose RTP clock runs at `clock_rate` Hz (8000 for G.711).
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            started: false,
            rejected: 0,
            epoch: None,
            transit: None,
            jitter_q4: 0,
            last_sr: None,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1 `update_seq`: whether the packet counts as valid.
    fn update_seq(&mut self, seq: u16) -> bool {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= RTP_SEQ_MOD - MAX_MISORDER {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets after a jump: the source restarted.
                debug!(ssrc = %self.ssrc, seq, "sequence restart");
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, as in A.1.
        self.received += 1;
        true
    }

    /// Handles one RTP packet of this source arriving at `arrival`.
    /// Returns whether A.1 accepted it (false while on probation or after a large jump).
    pub fn handle_rtp(
        &mut self,
        arrival: Instant,
        seq: SequenceNumber,
        timestamp: Timestamp,
    ) -> bool {
        if !self.update_seq(seq.0) {
            self.rejected += 1;
            return false;
        }
        // A.8: jitter from the difference in relative transit times, in timestamp units.
        let epoch = *self.epoch.get_or_insert(arrival);
        let elapsed = arrival.saturating_duration_since(epoch);
        let arrival_ts = (elapsed.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival_ts.wrapping_sub(timestamp.0);
        if let Some(last) = self.transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            // J += (|D| - J) / 16, with J kept scaled by 16.
            self.jitter_q4 = self
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
        true
    }

    /// Handles an SR from this source received at `arrival`.
    pub fn handle_sender_report(&mut self, arrival: Instant, ntp_time: NtpTime) {
        self.last_sr = Some((ntp_time.middle32(), arrival));
    }

    /// The source these statistics describe.
    pub const fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Extended highest sequence number received (cycles + max_seq).
    pub const fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Packets counted as received.
    pub const fn received(&self) -> u64 {
        self.received
    }

    /// Packets rejected by sequence validation.
    pub const fn rejected(&self) -> u64 {
        self.rejected
    }

    fn expected(&self) -> u64 {
        u64::from(self.extended_highest_seq().wrapping_sub(self.base_seq)) + 1
    }

    /// Cumulative packets lost (expected − received), clamped to the 24-bit field.
    pub fn cumulative_lost(&self) -> i32 {
        if self.received == 0 {
            return 0;
        }
        let lost = self.expected() as i64 - self.received as i64;
        lost.clamp(-0x80_0000, 0x7F_FFFF) as i32
    }

    /// Interarrival jitter in timestamp units.
    pub const fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Builds a report block at `now` and starts a new interval for the fraction lost (A.3).
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let (expected, fraction_lost) = if self.received == 0 {
            (0, 0)
        } else {
            let expected = self.expected();
            let expected_interval = expected.wrapping_sub(self.expected_prior) as i64;
            let received_interval = self.received.wrapping_sub(self.received_prior) as i64;
            let lost_interval = expected_interval - received_interval;
            let fraction = if expected_interval <= 0 || lost_interval <= 0 {
                0
            } else {
                ((lost_interval << 8) / expected_interval).min(255) as u8
            };
            (expected, fraction)
        };
        self.expected_prior = expected;
        self.received_prior = self.received;
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at);
                (lsr, dlsr_units(delay))
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// A delay in units of 1/65536 s, saturating.
fn dlsr_units(d: Duration) -> u32 {
    let units = d.as_nanos() * 65536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arbitrary origin; only offsets from it matter.
    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_loss_and_extends_sequence_over_wrap() {
        let t0 = origin();
        let mut s = ReceiverStats::new(Ssrc(7), 8000);
        // 65530..=65535, 0..=9 with 3 and 4 lost.
        let mut seq = SequenceNumber(65530);
        for i in 0..16u32 {
            if seq != SequenceNumber(3) && seq != SequenceNumber(4) {
                s.handle_rtp(t0 + ms(20 * u64::from(i)), seq, Timestamp(160 * i));
            }
            seq = seq.wrapping_add(1);
        }
        // First packet is probation; base is 65531.
        assert_eq!(s.extended_highest_seq(), 65536 + 9);
        assert_eq!(s.received(), 13);
        assert_eq!(s.cumulative_lost(), 2);
        let b = s.report_block(t0 + ms(400));
        assert_eq!(b.cumulative_lost, 2);
        assert_eq!(b.fraction_lost, (2 * 256 / 15) as u8);
        assert_eq!(b.jitter, 0, "perfectly paced arrivals have no jitter");
        // Next interval: no loss.
        for i in 16..26u32 {
            s.handle_rtp(
                t0 + ms(20 * u64::from(i)),
                SequenceNumber((i - 6) as u16),
                Timestamp(160 * i),
            );
        }
        let b = s.report_block(t0 + ms(600));
        assert_eq!(b.fraction_lost, 0);
        assert_eq!(b.cumulative_lost, 2);
        assert_eq!(b.last_sr, 0);
    }

    #[test]
    fn jitter_follows_a8() {
        let t0 = origin();
        let mut s = ReceiverStats::new(Ssrc(1), 8000);
        // Every other packet 10 ms (80 units) late: |D| = 80 each time after the first pair.
        let mut j: f64 = 0.0;
        for i in 0..200u32 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            s.handle_rtp(
                t0 + ms(20 * u64::from(i) + late),
                SequenceNumber(i as u16),
                Timestamp(160 * i),
            );
            if i >= 2 {
                j += (80.0 - j) / 16.0;
            }
        }
        assert!(
            (f64::from(s.jitter()) - j).abs() <= 1.0,
            "{} vs {j}",
            s.jitter()
        );
        assert!(s.jitter() >= 75);
    }

    #[test]
    fn lsr_and_dlsr() {
        let t0 = origin();
        let mut s = ReceiverStats::new(Ssrc(1), 8000);
        s.handle_sender_report(t0, NtpTime(0x1122_3344_5566_7788));
        let b = s.report_block(t0 + ms(500));
        assert_eq!(b.last_sr, 0x3344_5566);
        assert_eq!(b.delay_since_last_sr, 32768);
    }

    #[test]
    fn large_jump_needs_two_packets_then_restarts() {
        let t0 = origin();
        let mut s = ReceiverStats::new(Ssrc(1), 8000);
        for i in 0..5u16 {
            assert_eq!(s.handle_rtp(t0, SequenceNumber(i), Timestamp(0)), i > 0);
        }
        assert!(!s.handle_rtp(t0, SequenceNumber(30_000), Timestamp(0)));
        assert!(s.handle_rtp(t0, SequenceNumber(30_001), Timestamp(0)));
        assert_eq!(s.extended_highest_seq(), 30_001);
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.rejected(), 2);
    }
}
