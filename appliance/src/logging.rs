//! Logging that a flood cannot turn into a disk-filler: warnings and errors are throttled per
//! place in the code (callsite). Each callsite may log [`BURST`] warnings a second; the rest of
//! that second's are dropped and counted, and [`report_dropped`] (run by `serve` and `demo`)
//! logs one line a second per callsite that dropped any: how many, and where they came from.
//!
//! A gateway that sends 455,000 malformed datagrams a second thus writes at most [`BURST`]
//! "malformed command" lines and one count each second instead of 34 MB in five seconds; the
//! counters in `/metrics` still count every one.
//!
//! This is a driver: it reads the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Level, Metadata};
use tracing_subscriber::layer::{Context, Filter};

/// Warnings (and errors) a callsite may log per second.
pub const BURST: u32 = 10;

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    dropped: u64,
    name: &'static str,
    target: &'static str,
}

/// The per-callsite windows, shared by the filter and the reporter.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    windows: Arc<Mutex<HashMap<Identifier, Window>>>,
}

impl Throttle {
    /// Whether an event of `meta` may be logged at `now` (counts it either way).
    fn admit(&self, meta: &'static Metadata<'static>, now: Instant) -> bool {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = map.entry(meta.callsite()).or_insert(Window {
            started: now,
            logged: 0,
            dropped: 0,
            name: meta.name(),
            target: meta.target(),
        });
        if now.saturating_duration_since(w.started) >= Duration::from_secs(1) {
            w.started = now;
            w.logged = 0;
        }
        if w.logged < BURST {
            w.logged += 1;
            true
        } else {
            w.dropped += 1;
            false
        }
    }

    /// The counts dropped since the last call, by callsite (`(target, name, count)`).
    pub fn take_dropped(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        // One entry per callsite that ever warned: a fixed, finite set, so nothing is forgotten.
        for w in map.values_mut().filter(|w| w.dropped > 0) {
            out.push((w.target, w.name, std::mem::take(&mut w.dropped)));
        }
        out
    }
}

fn throttled(meta: &Metadata<'_>) -> bool {
    meta.is_event() && *meta.level() <= Level::WARN
}

impl<S> Filter<S> for Throttle {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        if throttled(meta) {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::always()
        }
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        let meta = event.metadata();
        !throttled(meta) || self.admit(meta, Instant::now())
    }
}

/// The throttle of the process's log, once [`init`] has run.
static THROTTLE: std::sync::OnceLock<Throttle> = std::sync::OnceLock::new();

static RING: std::sync::OnceLock<Arc<crate::log_ring::Ring>> = std::sync::OnceLock::new();

/// The last lines of the log ([`crate::log_ring`]), once [`init`] has run.
pub fn ring() -> Option<Arc<crate::log_ring::Ring>> {
    RING.get().cloned()
}

/// Sets up the process's log on stderr: `OFFHOOK_LOG` (an `EnvFilter` directive) or
/// `default_level`, colour only for a person at a terminal, warnings throttled per callsite;
/// the same lines are kept in memory for the admin console ([`ring`]).
pub fn init(default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter =
        EnvFilter::try_from_env("OFFHOOK_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let throttle = THROTTLE.get_or_init(Throttle::default).clone();
    let ring = RING.get_or_init(Arc::default).clone();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal; logs to files and journals stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .and_then(crate::log_ring::RingLayer(ring))
        .with_filter(throttle);
    tracing_subscriber::registry().with(filter).with(fmt).init();
}

/// Starts [`report_dropped`] on the current tokio runtime (if [`init`] has run).
pub fn spawn_reporter() -> Option<tokio::task::JoinHandle<()>> {
    THROTTLE
        .get()
        .map(|t| tokio::spawn(report_dropped(t.clone())))
}

/// Logs, once a second, how many warnings each callsite had dropped. Runs until aborted.
pub async fn report_dropped(throttle: Throttle) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for (target, name, count) in throttle.take_dropped() {
            tracing::warn!(
                dropped = count,
                from = target,
                at = name,
                "repeated warnings not logged (more than {BURST} a second from one place)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static META: &Metadata<'static> = {
        struct Cs;
        impl tracing::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                META
            }
        }
        static CS: Cs = Cs;
        &Metadata::new(
            "event src/x.rs:1",
            "offhook::test",
            Level::WARN,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&["message"], Identifier(&CS)),
            tracing::metadata::Kind::EVENT,
        )
    };

    #[test]
    fn a_callsite_logs_a_burst_a_second_and_the_rest_is_counted() {
        let t = Throttle::default();
        let start = Instant::now();
        let admitted = (0..1000).filter(|_| t.admit(META, start)).count();
        assert_eq!(admitted, BURST as usize);
        assert_eq!(
            t.take_dropped(),
            vec![("offhook::test", "event src/x.rs:1", 1000 - u64::from(BURST))]
        );
        assert!(t.take_dropped().is_empty(), "counted once");
        // A second later the callsite may log again.
        assert!(t.admit(META, start + Duration::from_secs(1)));
    }
}
