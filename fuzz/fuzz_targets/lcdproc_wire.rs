#![no_main]
//! LCDd's protocol from hostile bytes. Each newline-separated line that parses has its fields
//! within bounds (no control characters, display dimensions in range, no longer than
//! `MAX_LINE`). The whole input, fed to a connected session in chunks cut where the first byte
//! says, never panics and stays within its documented bounds.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use offhook_panel::protocol::{MAX_DIMENSION, MAX_LINE, Reply, parse};
use offhook_panel::session::{Config, Event, MAX_ERRORS_KEPT, MAX_EVENTS, Session};

fn clean(s: &str) -> bool {
    s.len() <= MAX_LINE && !s.chars().any(char::is_control)
}

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let Ok(reply) = parse(line) else { continue };
        match reply {
            Reply::Connect(c) => {
                for d in [c.width, c.height, c.cell_width, c.cell_height] {
                    assert!((1..=MAX_DIMENSION).contains(&d));
                }
                assert!(clean(c.server_version) && clean(c.protocol));
            }
            Reply::Huh(t) | Reply::Listen(t) | Reply::Ignore(t) | Reply::Key(t) => {
                assert!(clean(t));
            }
            Reply::MenuEvent { id, value, .. } => {
                assert!(clean(id) && !id.is_empty());
                assert!(value.is_none_or(|v| clean(v) && !v.is_empty()));
            }
            Reply::Success | Reply::NoopComplete | Reply::Bye => {}
        }
    }

    // A base instant for virtual time; the session never reads a clock itself.
    let now = Instant::now();
    let mut session = Session::new(Config::default());
    session.handle_connected(now);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for chunk in data.chunks(step) {
        session.handle_input(chunk);
        while let Some(bytes) = session.poll_transmit(now) {
            assert!(bytes.ends_with(b"\n"));
        }
    }
    // Whatever state the input left, the timer ends in a keep-alive or a close, never a panic.
    let later = now + Duration::from_secs(3600);
    session.handle_timeout(later);
    while session.poll_transmit(later).is_some() {}
    let _ = session.poll_close();
    session.handle_disconnected();
    assert!(session.poll_timeout().is_none());
    let mut events = 0;
    while let Some(event) = session.poll_event() {
        events += 1;
        if let Event::Refused { errors, .. } = event {
            assert!(errors.len() <= MAX_ERRORS_KEPT);
        }
    }
    assert!(events <= MAX_EVENTS);
    let stats = session.stats();
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(stats.lines <= lines + 1);
});
