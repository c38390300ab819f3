//! The station manager's timers at scale: what a driver's wake-up costs with `N` stations
//! (3,000 by default) whose phones all ring, each with its own deadline.
//!
//! - `poll_timeout`: the next deadline, asked after every input;
//! - `handle_timeout, none due`: a wake-up with nothing to do (the driver's timer fired early,
//!   or for the trunks);
//! - `one station re-armed`: a message withdrawn from one ringing phone (it stops ringing: its
//!   timer is cancelled) and a new one for it (it rings again: re-armed), then `poll_timeout`,
//!   as a driver does after each input; the station's own work is included.
//!
//! `N=3000 cargo bench -p station-manager --bench timers`
// A benchmark's base instant is real time.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_control::model::{Event, GatewayId, LineId};
use station_manager::manager::{Config, StationManager};
use station_manager::{Input, MessageId, UserId};

fn user(k: u32) -> UserId {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&k.to_be_bytes());
    UserId(id)
}

fn message(k: u32, round: u32) -> MessageId {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&k.to_be_bytes());
    id[4..8].copy_from_slice(&round.to_be_bytes());
    MessageId(id)
}

fn drain(m: &mut StationManager) {
    while m.poll_command().is_some() {}
    while m.poll_media().is_some() {}
    while m.poll_output().is_some() {}
    while m.poll_availability().is_some() {}
}

/// `n` phones, all up and ringing for a message, phone `k` rung `k` ms after `t0`.
fn ringing(n: u32, t0: Instant) -> StationManager {
    let gw = GatewayId::new("gw1");
    let line = |k: u32| LineId::new(gw.clone(), &format!("aaln/{k}"));
    let mut m = StationManager::new(Config::default());
    for k in 0..n {
        m.add_station(line(k), user(k)).expect("a new line");
    }
    m.handle_event(
        t0,
        Event::GatewayUp {
            gateway: gw.clone(),
        },
    );
    for k in 0..n {
        m.handle_event(
            t0,
            Event::LineStatus {
                line: line(k),
                off_hook: false,
            },
        );
    }
    for k in 0..n {
        let at = t0 + Duration::from_millis(u64::from(k));
        m.handle_input(
            at,
            Input::MessageWaiting {
                user: user(k),
                message: message(k, 0),
                from: user(n),
            },
        );
    }
    drain(&mut m);
    m
}

fn timers(c: &mut Criterion) {
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let t0 = Instant::now();
    let mut m = ringing(n, t0);
    let first = m.poll_timeout().expect("the phones ring");
    assert!(first > t0 + Duration::from_secs(1), "nothing due yet");
    let mut g = c.benchmark_group(format!("station timers, {n} ringing"));
    g.bench_function("poll_timeout", |b| b.iter(|| black_box(m.poll_timeout())));
    let early = t0 + Duration::from_secs(1);
    g.bench_function("handle_timeout, none due", |b| {
        b.iter(|| m.handle_timeout(black_box(early)));
    });
    let (mut k, mut round) = (0u32, 0u32);
    g.bench_function("one station re-armed, then poll_timeout", |b| {
        b.iter(|| {
            m.handle_input(
                early,
                Input::MessageGone {
                    user: user(k),
                    message: message(k, round),
                },
            );
            m.handle_input(
                early,
                Input::MessageWaiting {
                    user: user(k),
                    message: message(k, round + 1),
                    from: user(n),
                },
            );
            drain(&mut m);
            k += 1;
            if k == n {
                (k, round) = (0, round + 1);
            }
            black_box(m.poll_timeout())
        });
    });
    g.finish();
    // Every phone still rings.
    assert!(m.poll_timeout().is_some_and(|t| t > early));
}

criterion_group!(benches, timers);
criterion_main!(benches);
