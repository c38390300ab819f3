//! The phone on an analog line, whatever protocol controls the line: the handset (on or off
//! hook), the bell with its cadence, autoanswer, and whether what the line receives is heard.

use std::time::{Duration, Instant};

use super::{Bell, Output};

/// The phone on one line. A protocol side decides when it rings and what a hook change
/// means; the phone keeps the state and reports each change as an [`Output`].
#[derive(Debug)]
pub(crate) struct Phone {
    line: u16,
    off_hook: bool,
    bell: Option<Bell>,
    autoanswer: bool,
    autoanswer_at: Option<Instant>,
    /// Whether what the line receives is delivered as [`Output::Audio`].
    pub(crate) hearing: bool,
}

impl Phone {
    /// On hook and silent.
    pub(crate) fn new(line: u16) -> Self {
        Self {
            line,
            off_hook: false,
            bell: None,
            autoanswer: false,
            autoanswer_at: None,
            hearing: false,
        }
    }

    /// Whether the handset is off hook.
    pub(crate) fn is_off_hook(&self) -> bool {
        self.off_hook
    }

    /// Turns autoanswer on or off; switched on while `ringing` and on hook, it picks up
    /// `delay` from now.
    pub(crate) fn set_autoanswer(
        &mut self,
        now: Instant,
        on: bool,
        ringing: bool,
        delay: Duration,
    ) {
        self.autoanswer = on;
        self.autoanswer_at = (on && ringing && !self.off_hook).then(|| now + delay);
    }

    /// The bell starts ringing now (unless it already is): distinctive pattern `distinctive`,
    /// or the standard `on`/`off` cadence. With autoanswer on, it picks up after
    /// `autoanswer_delay`. Returns the output when the bell starts.
    pub(crate) fn ring(
        &mut self,
        now: Instant,
        distinctive: Option<u8>,
        (on, off): (Duration, Duration),
        autoanswer_delay: Duration,
    ) -> Option<Output> {
        if self.bell.is_some() {
            return None;
        }
        self.bell = Some(Bell::new(now, distinctive, on, off));
        if self.autoanswer {
            self.autoanswer_at = Some(now + autoanswer_delay);
        }
        Some(Output::Ringing {
            line: self.line,
            on: true,
        })
    }

    /// The bell stops (and a pending autoanswer with it); returns the output when it was
    /// sounding.
    pub(crate) fn silence(&mut self) -> Option<Output> {
        self.autoanswer_at = None;
        self.bell.take().filter(|b| b.on).map(|_| Output::Ringing {
            line: self.line,
            on: false,
        })
    }

    /// The handset goes off (`off`) or on hook, by hand or by autoanswer (`auto`); returns the
    /// output when the state changed.
    pub(crate) fn hook(&mut self, off: bool, auto: bool) -> Option<Output> {
        if self.off_hook == off {
            return None;
        }
        self.off_hook = off;
        self.autoanswer_at = None;
        Some(Output::Hook {
            line: self.line,
            off_hook: off,
            auto,
        })
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [self.bell.as_ref().map(|b| b.next), self.autoanswer_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Steps the bell's cadence if due; returns the output when it did.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Option<Output> {
        let bell = self.bell.as_mut().filter(|b| b.next <= now)?;
        let on = bell.step(now);
        Some(Output::Ringing {
            line: self.line,
            on,
        })
    }

    /// Whether autoanswer is due at `now` (it then no longer is).
    pub(crate) fn autoanswer_due(&mut self, now: Instant) -> bool {
        let due = self.autoanswer_at.is_some_and(|t| t <= now);
        if due {
            self.autoanswer_at = None;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base instant for virtual time, never a measurement.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    const CADENCE: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(4));

    #[test]
    fn the_bell_follows_its_cadence_and_autoanswer_picks_up() {
        let t = epoch();
        let mut p = Phone::new(3);
        p.set_autoanswer(t, true, false, Duration::from_secs(1));
        assert_eq!(p.poll_timeout(), None, "not ringing: nothing to answer");
        let start = p.ring(t, None, CADENCE, Duration::from_secs(1));
        assert_eq!(start, Some(Output::Ringing { line: 3, on: true }));
        assert_eq!(p.ring(t, None, CADENCE, Duration::from_secs(1)), None);
        assert_eq!(p.poll_timeout(), Some(t + Duration::from_secs(1)));
        assert!(!p.autoanswer_due(t));
        assert!(p.autoanswer_due(t + Duration::from_secs(1)));
        assert_eq!(p.poll_timeout(), Some(t + Duration::from_secs(2)));
        let off = p.handle_timeout(t + Duration::from_secs(2));
        assert_eq!(off, Some(Output::Ringing { line: 3, on: false }));
        assert_eq!(p.poll_timeout(), Some(t + Duration::from_secs(6)));
        assert_eq!(p.silence(), None, "the bell was in its silent half");
    }

    #[test]
    fn a_hook_change_is_reported_once() {
        let mut p = Phone::new(1);
        assert_eq!(
            p.hook(true, false),
            Some(Output::Hook {
                line: 1,
                off_hook: true,
                auto: false
            })
        );
        assert_eq!(p.hook(true, false), None);
        assert!(p.is_off_hook());
    }
}
