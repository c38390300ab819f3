//! Logging that a flood cannot turn into a disk-filler: warnings and errors are throttled per
//! place in the code (callsite). Each callsite may log [`BURST`] warnings a second; the rest of
//! that second's are dropped and counted, and [`report_dropped`] (run by `serve` and `demo`)
//! logs one line a second per callsite that dropped any: how many, and where they came from.
//!
//! A gateway that sends 455,000 malformed datagrams a second thus writes at most [`BURST`]
//! "malformed command" lines and one count each second instead of 34 MB in five seconds; the
//! counters in `/metrics` still count every one.
//!
//! Under systemd, when stderr is the journal stream systemd connected (`JOURNAL_STREAM`, see
//! [`stderr_is_journal`]), events go to journald in its native protocol instead
//! (`tracing-journald`: the level as the entry's priority, each field as a journal field with
//! the prefix `F_`, such as `F_ADDRESS`, the identifier `offhook`); if the journal's socket
//! cannot be opened, the plain stderr lines stay. The admin console's ring ([`ring`]) gets the
//! same events either way.
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

/// Sets up the process's log on stderr (or journald, see the module's doc): `OFFHOOK_LOG` (an
/// `EnvFilter` directive) or `default_level`, colour only for a person at a terminal, warnings
/// throttled per callsite; the same lines are kept in memory for the admin console ([`ring`]).
pub fn init(default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter =
        EnvFilter::try_from_env("OFFHOOK_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let throttle = THROTTLE.get_or_init(Throttle::default).clone();
    let ring = RING.get_or_init(Arc::default).clone();
    let (journald, no_journal) = if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(l) => (Some(l.with_syslog_identifier("offhook".to_owned())), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    let fmt = journald.is_none().then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colour only for a person at a terminal; logs to files and journals stay plain.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    });
    // One of the two writers (an `Option` is a layer that may be absent), then the ring.
    let out = Layer::and_then(journald, fmt)
        .and_then(crate::log_ring::RingLayer(ring))
        .with_filter(throttle);
    tracing_subscriber::registry().with(filter).with(out).init();
    if let Some(e) = no_journal {
        tracing::warn!(error = %e, "JOURNAL_STREAM is set but journald's socket cannot be opened; logging to stderr");
    }
}

/// Whether stderr is the stream systemd connected to the journal: `JOURNAL_STREAM` holds its
/// `DEVICE:INODE`, and matches only while stderr was not redirected since (systemd.exec(5)'s
/// rule, so `offhook user ... 2>file` run from a service's shell still logs to the file).
pub fn stderr_is_journal() -> bool {
    is_stream(
        std::env::var_os("JOURNAL_STREAM").as_deref(),
        std::io::stderr(),
    )
}

/// Whether `fd` is the file `journal_stream` (`DEVICE:INODE`) names.
fn is_stream(journal_stream: Option<&std::ffi::OsStr>, fd: impl std::os::fd::AsFd) -> bool {
    let Some(ids) = journal_stream
        .and_then(std::ffi::OsStr::to_str)
        .and_then(parse_journal_stream)
    else {
        return false;
    };
    rustix::fs::fstat(fd).is_ok_and(|st| (st.st_dev, st.st_ino) == ids)
}

/// `JOURNAL_STREAM`'s `DEVICE:INODE` (both decimal).
pub fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(dev) || !digits(ino) {
        return None;
    }
    Some((dev.parse().ok()?, ino.parse().ok()?))
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
    fn journal_stream_is_device_colon_inode() {
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(
            parse_journal_stream("18446744073709551615:1"),
            Some((u64::MAX, 1))
        );
        for bad in [
            "", ":", "8:", ":1", "8", "8:1:2", "-8:1", "+8:1", "8:x", " 8:1",
        ] {
            assert_eq!(parse_journal_stream(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_stream_is_the_journal_only_when_device_and_inode_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = std::fs::File::create(dir.path().join("a")).expect("file");
        let other = std::fs::File::create(dir.path().join("b")).expect("file");
        let st = rustix::fs::fstat(&file).expect("fstat");
        let value = format!("{}:{}", st.st_dev, st.st_ino);
        let value = Some(std::ffi::OsStr::new(&value));
        assert!(is_stream(value, &file));
        assert!(!is_stream(value, &other), "another inode");
        assert!(!is_stream(None, &file), "unset");
        assert!(!is_stream(Some(std::ffi::OsStr::new("junk")), &file));
    }

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
