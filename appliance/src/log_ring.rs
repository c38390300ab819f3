//! The last lines of the process's log, kept in memory for the admin console's live log
//! (`GET /api/v1/log`, [`offhook_web::log_view`]). The ring sits beside the stderr writer under
//! the same filters (the level of `OFFHOOK_LOG`, the per-callsite throttle), so it holds what
//! the log file holds; it is bounded both in lines ([`LINES`]) and in each line's length
//! ([`LINE_MAX`]), so no flood makes it grow.
//!
//! This is a driver: it reads the wall clock to stamp lines.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;

use offhook_web::log_view::{LogLine, LogPage, LogSource};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Lines kept.
pub const LINES: usize = 1000;

/// Longest line kept, in bytes; a longer one is cut (at a character boundary) and marked `…`.
pub const LINE_MAX: usize = 1024;

/// The ring: the last [`LINES`] lines at INFO and above.
#[derive(Debug, Default)]
pub struct Ring(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    lines: VecDeque<LogLine>,
    /// The number the next line gets (the first is 1).
    next: u64,
}

impl Ring {
    fn push(&self, level: &'static str, target: &str, message: String) {
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        inner.next = inner.next.max(1);
        let seq = inner.next;
        inner.next += 1;
        if inner.lines.len() == LINES {
            inner.lines.pop_front();
        }
        inner.lines.push_back(LogLine {
            seq,
            time_ms,
            level,
            target: cut(target.to_owned(), 128),
            message,
        });
    }
}

impl LogSource for Ring {
    fn since(&self, after: u64, max: usize) -> LogPage {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let first = inner.lines.front().map_or(inner.next.max(1), |l| l.seq);
        let lines: Vec<LogLine> = inner
            .lines
            .iter()
            .filter(|l| l.seq > after)
            .take(max)
            .cloned()
            .collect();
        let missed = first.saturating_sub(after.saturating_add(1));
        let next = lines
            .last()
            .map_or(after.max(first.saturating_sub(1)), |l| l.seq);
        LogPage {
            lines,
            missed,
            next,
        }
    }
}

/// `s` cut to at most `max` bytes at a character boundary, marked `…` when cut.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Writes an event's message and fields as the log file does: `message key=value …`. A field
/// named `message` besides the message itself (the macro's message comes first) is kept as a
/// field.
#[derive(Default)]
struct Line {
    message: Option<String>,
    fields: String,
}

impl Line {
    fn field(&mut self, field: &Field, value: String) {
        if self.fields.len() > LINE_MAX {
            return;
        }
        if field.name() == "message" && self.message.is_none() {
            self.message = Some(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn text(self) -> String {
        let mut s = self.message.unwrap_or_default();
        s.push_str(&self.fields);
        s
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = if field.name() == "message" && self.message.is_none() {
            value.to_owned()
        } else {
            format!("{value:?}")
        };
        self.field(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, format!("{value:?}"));
    }
}

/// The layer that feeds a [`Ring`].
pub struct RingLayer(pub std::sync::Arc<Ring>);

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            _ => return,
        };
        let mut line = Line::default();
        event.record(&mut line);
        self.0
            .push(level, meta.target(), cut(line.text(), LINE_MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_lines_and_says_what_was_missed() {
        let ring = Ring::default();
        assert_eq!(ring.since(0, 10), LogPage::default());
        for i in 0..LINES + 5 {
            ring.push("INFO", "t", format!("line {i}"));
        }
        // Lines 1..=5 are gone: asking from the start says so.
        let page = ring.since(0, 3);
        assert_eq!(page.missed, 5);
        assert_eq!(page.lines[0].seq, 6);
        assert_eq!(page.lines[0].message, "line 5");
        assert_eq!(page.next, 8);
        let rest = ring.since(page.next, usize::MAX);
        assert_eq!(rest.missed, 0);
        assert_eq!(rest.lines.len(), LINES - 3);
        assert_eq!(rest.next, (LINES + 5) as u64);
        // Nothing new: the same place again.
        assert_eq!(ring.since(rest.next, 10).lines, []);
        assert_eq!(ring.since(rest.next, 10).next, rest.next);
    }

    #[test]
    fn long_lines_are_cut_at_a_character() {
        assert_eq!(cut("abc".into(), 3), "abc");
        let cut_one = cut("é".repeat(10), 8);
        assert!(cut_one.len() <= 8 && cut_one.ends_with('…'), "{cut_one}");
        assert_eq!(cut_one, "éé…");
    }

    #[test]
    fn events_are_written_as_the_log_has_them() {
        use tracing_subscriber::layer::SubscriberExt;
        let ring = std::sync::Arc::new(Ring::default());
        let subscriber = tracing_subscriber::registry().with(RingLayer(ring.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(user = "bob", n = 3, "user changed");
            tracing::debug!("not kept");
            tracing::warn!(error = %"disk full", "retention sweep failed");
            tracing::info!(big = %"x".repeat(5000), "long");
            tracing::info!(message = %"a-guid", "stored");
            tracing::error!(message = "also-a-guid", "failed");
            tracing::info!(big = %"y".repeat(LINE_MAX + 10), after = 1, "capped");
        });
        let page = ring.since(0, 10);
        let lines: Vec<(&str, &str)> = page
            .lines
            .iter()
            .map(|l| (l.level, l.message.as_str()))
            .take(2)
            .collect();
        assert_eq!(
            lines,
            [
                ("INFO", "user changed user=\"bob\" n=3"),
                ("WARN", "retention sweep failed error=disk full")
            ]
        );
        assert!(page.lines[2].message.len() <= LINE_MAX);
        assert!(page.lines[2].message.starts_with("long big=xxx"));
        assert_eq!(page.lines[3].message, "stored message=a-guid");
        assert_eq!(
            (page.lines[4].level, page.lines[4].message.as_str()),
            ("ERROR", "failed message=\"also-a-guid\"")
        );
        // Fields stop being written once the line is full.
        assert!(
            !page.lines[5].message.contains("after="),
            "{}",
            page.lines[5].message
        );
    }
}
