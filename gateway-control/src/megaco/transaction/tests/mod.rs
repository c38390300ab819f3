//! Unit tests of the transaction layer, in virtual time, by concern: requests we send (D.1.3
//! timers, Karn's rule, Pendings), acknowledgements (D.1.2.2), requests we receive
//! (at-most-once execution, Pendings due, history), and settings and counters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;

mod acks;
mod incoming;
mod outgoing;
mod settings;

fn peer() -> SocketAddr {
    "192.0.2.10:2944".parse().unwrap()
}

fn other() -> SocketAddr {
    "192.0.2.11:2944".parse().unwrap()
}

fn third() -> SocketAddr {
    "192.0.2.12:2944".parse().unwrap()
}

/// The tests' time origin; only differences matter.
#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn config(f: impl FnOnce(&mut Config) -> Result<&mut Config, ConfigError>) -> Config {
    let mut c = Config::default();
    f(&mut c).unwrap();
    c
}

fn layer() -> Transactions {
    Transactions::new(Config::default(), 1)
}

fn drain(t: &mut Transactions) -> Vec<Transmit> {
    std::iter::from_fn(|| t.poll_transmit()).collect()
}

fn events(t: &mut Transactions) -> Vec<Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// Runs every timer up to `until`, returning when (after `start`) each message went out, and
/// its bytes.
fn run_until(t: &mut Transactions, start: Instant, until: Instant) -> Vec<(Duration, Vec<u8>)> {
    let mut sent = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at > until {
            break;
        }
        t.handle_timeout(at);
        // Every timer due has run.
        assert!(t.poll_timeout().is_none_or(|next| next > at));
        for tx in drain(t) {
            sent.push((at - start, tx.contents));
        }
    }
    sent
}

/// Runs every timer up to `until`, returning the events with when (after `start`) they came.
fn events_until(t: &mut Transactions, start: Instant, until: Instant) -> Vec<(Duration, Event)> {
    let mut out = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at > until {
            break;
        }
        t.handle_timeout(at);
        drain(t);
        out.extend(events(t).into_iter().map(|e| (at - start, e)));
    }
    out
}

/// The instants of `run_until`'s messages.
fn times(sent: &[(Duration, Vec<u8>)]) -> Vec<Duration> {
    sent.iter().map(|(at, _)| *at).collect()
}

fn id(n: u32) -> TransactionId {
    TransactionId(n)
}

fn range(first: u32, last: u32) -> AckRange {
    AckRange {
        first: TransactionId(first),
        last: TransactionId(last),
    }
}

/// Sends request `n` to `to` over UDP at `at` and drops its first transmission.
fn send(t: &mut Transactions, at: Instant, to: SocketAddr, n: u32) {
    t.send_request(at, to, false, id(n), format!("request {n}").into_bytes())
        .unwrap();
    assert_eq!(drain(t).len(), 1);
}

/// Receives request `n` from `from`, replies `reply n` at once (UDP, no ImmAckRequired) and
/// drops the reply's transmission.
fn answer(t: &mut Transactions, at: Instant, from: SocketAddr, n: u32) {
    assert_eq!(
        t.handle_request(at, from, false, id(n)),
        RequestOutcome::New
    );
    t.send_reply(
        at,
        from,
        false,
        id(n),
        format!("reply {n}").into_bytes(),
        false,
    );
    assert_eq!(drain(t).len(), 1);
}
