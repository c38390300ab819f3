//! Call-progress tones a PBX plays down a trunk, as 8 kHz audio for the port's RTP connection.
//!
//! Frequencies and cadences are the North American precise tones of ANSI T1.401 / Telcordia
//! GR-506-CORE §17 (also ITU-T E.180 Supplement 2, "United States"): busy is 480 + 620 Hz,
//! 0.5 s on / 0.5 s off; reorder (fast busy, congestion) is the same pair at 0.25 s on /
//! 0.25 s off. Each frequency is sent at about −13 dBm0, as GR-506 gives for busy.

use std::f64::consts::TAU;

/// Samples per second of every tone.
const RATE: u32 = 8000;
/// Peak amplitude of each of the two frequencies: −13 dBm0 is about 0.22 of G.711's full
/// scale (+3.17 dBm0).
const AMPLITUDE: f64 = 0.22 * 32767.0;
/// The most samples one [`ToneGen::chunk`] call makes (one second).
pub const MAX_TONE_CHUNK: usize = RATE as usize;

/// A call-progress tone the simulated PBX plays towards the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Busy: 480 + 620 Hz, 0.5 s on, 0.5 s off.
    Busy,
    /// Reorder (fast busy): 480 + 620 Hz, 0.25 s on, 0.25 s off.
    Reorder,
}

impl Tone {
    /// The two frequencies, in Hz.
    pub fn frequencies(self) -> (f64, f64) {
        (480.0, 620.0)
    }

    /// On and off time, in samples.
    pub fn cadence(self) -> (u32, u32) {
        match self {
            Self::Busy => (RATE / 2, RATE / 2),
            Self::Reorder => (RATE / 4, RATE / 4),
        }
    }

    /// As printed (`busy`, `reorder`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::Reorder => "reorder",
        }
    }
}

/// An endless tone, handed out in chunks that join without a click: the sine phase and the
/// cadence carry on from one chunk to the next.
#[derive(Debug, Clone)]
pub struct ToneGen {
    tone: Tone,
    /// Samples generated so far (position in the cadence and the sines).
    at: u64,
}

impl ToneGen {
    /// Starts `tone` at the beginning of its first "on" period.
    pub fn new(tone: Tone) -> Self {
        Self { tone, at: 0 }
    }

    /// Which tone.
    pub fn tone(&self) -> Tone {
        self.tone
    }

    /// The next `n` samples (at most [`MAX_TONE_CHUNK`]).
    pub fn chunk(&mut self, n: usize) -> Vec<i16> {
        let n = n.min(MAX_TONE_CHUNK);
        let (on, off) = self.tone.cadence();
        let period = u64::from(on + off);
        let (f1, f2) = self.tone.frequencies();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let sounding = self.at % period < u64::from(on);
            let sample = if sounding {
                let t = self.at as f64 / f64::from(RATE);
                AMPLITUDE * ((TAU * f1 * t).sin() + (TAU * f2 * t).sin())
            } else {
                0.0
            };
            out.push(sample.round() as i16);
            self.at += 1;
        }
        out
    }
}
