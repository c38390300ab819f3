//! Unit tests of the transaction layer, in virtual time, by concern: outgoing commands (§4.3
//! timers, Karn's rule, provisional responses), response acknowledgements (§3.5.6 `K:` and
//! `000`), incoming commands (at-most-once execution, history), settings and counters, and
//! piggy-backing (§3.5.5).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;

mod acks;
mod incoming;
mod outgoing;
mod piggybacking;
mod settings;

fn peer() -> SocketAddr {
    "192.0.2.10:2427".parse().unwrap()
}

fn other() -> SocketAddr {
    "192.0.2.11:2427".parse().unwrap()
}

fn third() -> SocketAddr {
    "192.0.2.12:2427".parse().unwrap()
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

fn drain(t: &mut Transactions) -> Vec<Transmit> {
    std::iter::from_fn(|| t.poll_transmit()).collect()
}

fn events(t: &mut Transactions) -> Vec<Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// Runs every timer up to `until`, returning when (after `start`) each datagram went out, and
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

/// The instants of `run_until`'s datagrams.
fn times(sent: &[(Duration, Vec<u8>)]) -> Vec<Duration> {
    sent.iter().map(|(at, _)| *at).collect()
}

/// Sends a command with a fresh id and drops its first transmission.
fn send(t: &mut Transactions, now: Instant, to: SocketAddr) -> TransactionId {
    let id = t.allocate_id();
    t.send_command(
        now,
        to,
        id,
        format!("RQNT {id} aaln/1@gw MGCP 1.0\r\n").into_bytes(),
    )
    .unwrap();
    drain(t);
    id
}

fn ack(id: TransactionId) -> Vec<u8> {
    format!("000 {id} OK\r\n").into_bytes()
}
