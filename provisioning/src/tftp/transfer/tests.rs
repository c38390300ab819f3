//! Scenarios at explicit virtual times, and a lossy link between a transfer and a tiny client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::tftp::wire::{ErrorCode, Repr, TftpOption};

/// The tests' time origin; only differences matter.
#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);
const STRANGER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40001);

fn opts<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<TftpOption<'a>> {
    pairs
        .iter()
        .map(|&(name, value)| TftpOption { name, value })
        .collect()
}

fn ack(block: u16) -> Vec<u8> {
    Repr::Ack { block }.to_vec().unwrap()
}

/// Drains the transmits, as (block, len) for DATA and parsed packets for the rest.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Data(u16, usize),
    Oack(Vec<(String, String)>),
    Error(SocketAddr, u16),
}

fn drain(t: &mut Transfer) -> Vec<Sent> {
    std::iter::from_fn(|| t.poll_transmit())
        .map(|x| match x {
            Transmit::Data { to, block, len, .. } => {
                assert_eq!(to, CLIENT);
                Sent::Data(block, len)
            }
            Transmit::Packet { to, bytes } => match Repr::parse(&bytes).unwrap() {
                Repr::Oack { options } => {
                    assert_eq!(to, CLIENT);
                    Sent::Oack(
                        options
                            .iter()
                            .map(|o| (o.name.to_owned(), o.value.to_owned()))
                            .collect(),
                    )
                }
                Repr::Error { code, .. } => Sent::Error(to, code.0),
                other => panic!("unexpected {other:?}"),
            },
        })
        .collect()
}

fn oack(pairs: &[(&str, &str)]) -> Sent {
    Sent::Oack(
        pairs
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
    )
}

#[test]
fn no_options_means_data_1_straight_away() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 1000, &Config::default());
    assert!(!t.negotiated().oack);
    assert_eq!((t.len(), t.is_empty(), t.peer()), (1000, false, CLIENT));
    assert_eq!(drain(&mut t), [Sent::Data(1, 512)]);
    assert_eq!(t.poll_timeout(), Some(now + secs(1)));
    t.handle_datagram(now, CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 488)]);
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(t.outcome(), Some(Outcome::Completed));
    assert!(t.is_done());
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(drain(&mut t), []);
}

#[test]
fn options_are_acknowledged_then_data_follows_ack_0() {
    let now = t0();
    let asked = opts(&[
        ("BLKSIZE", "1468"),
        ("tsize", "0"),
        ("timeout", "3"),
        ("windowsize", "16"),
        ("utimeout", "500"),
    ]);
    let mut t = Transfer::new(now, CLIENT, &asked, 10_000, &Config::default());
    assert_eq!(
        drain(&mut t),
        [oack(&[
            ("blksize", "1468"),
            ("timeout", "3"),
            ("tsize", "10000"),
            ("windowsize", "16")
        ])]
    );
    assert_eq!(t.poll_timeout(), Some(now + secs(3)));
    t.handle_datagram(now, CLIENT, &ack(1)); // not the OACK's ACK
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(drain(&mut t), []);
    assert_eq!(t.stats().future_acks, 2);
    t.handle_datagram(now, CLIENT, &ack(0));
    let sent = drain(&mut t);
    assert_eq!(
        sent.len(),
        7,
        "10000 bytes are 7 blocks of 1468, all in one window"
    );
    assert_eq!(sent[6], Sent::Data(7, 10_000 - 6 * 1468));
    t.handle_datagram(now, CLIENT, &ack(7));
    assert!(t.is_done());
}

#[test]
fn bad_values_are_left_out_of_the_oack() {
    let now = t0();
    for bad in [
        ("blksize", "7"),
        ("blksize", "abc"),
        ("blksize", "-512"),
        ("blksize", " 512"),
        ("blksize", "+512"),
        ("blksize", ""),
        ("blksize", "000000000000000000000512"),
        ("windowsize", "0"),
        ("windowsize", "65536"),
        ("timeout", "0"),
        ("timeout", "256"),
        ("timeout", "99999999999999999999999"),
        ("multicast", ""),
    ] {
        let mut t = Transfer::new(now, CLIENT, &opts(&[bad]), 100, &Config::default());
        assert_eq!(drain(&mut t), [Sent::Data(1, 100)], "{bad:?}");
    }
    // Only the good one of a mix; the first of a repeated option counts.
    let asked = opts(&[("blksize", "x"), ("windowsize", "4"), ("windowsize", "8")]);
    let mut t = Transfer::new(now, CLIENT, &asked, 100, &Config::default());
    assert_eq!(drain(&mut t), [oack(&[("windowsize", "4")])]);
}

#[test]
fn sizes_are_clamped_to_config_and_path_mtu() {
    let now = t0();
    let big = opts(&[("blksize", "70000"), ("windowsize", "65535")]);
    let t = Transfer::new(now, CLIENT, &big, 0, &Config::default());
    assert_eq!(t.negotiated().blksize, 65464);
    assert_eq!(
        t.negotiated().windowsize,
        1,
        "a window holds at most 64 KiB"
    );
    let t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("blksize", "8192"), ("windowsize", "64")]),
        0,
        &Config::default(),
    );
    assert_eq!(t.negotiated().windowsize, 8);
    let t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("blksize", "512"), ("windowsize", "65535")]),
        0,
        &Config::default(),
    );
    assert_eq!(t.negotiated().windowsize, 64, "the configured maximum");
    let mut roomy = Config::default();
    roomy.max_window_bytes(1 << 20);
    let t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("blksize", "8192"), ("windowsize", "64")]),
        0,
        &roomy,
    );
    assert_eq!(t.negotiated().windowsize, 64);
    let mut config = Config::default();
    config.path_mtu(1500).unwrap().max_windowsize(16).unwrap();
    let t = Transfer::new(now, CLIENT, &big, 0, &config);
    assert_eq!(t.negotiated().blksize, 1468);
    assert_eq!(t.negotiated().windowsize, 16);
    let v6: SocketAddr = "[::1]:5000".parse().unwrap();
    assert_eq!(
        Transfer::new(now, v6, &big, 0, &config)
            .negotiated()
            .blksize,
        1448
    );
    config.max_blksize(1024).unwrap();
    assert_eq!(
        Transfer::new(now, CLIENT, &big, 0, &config)
            .negotiated()
            .blksize,
        1024
    );
    assert!(Config::default().max_blksize(7).is_err());
    assert!(Config::default().max_windowsize(0).is_err());
    assert!(Config::default().path_mtu(575).is_err());
    assert!(Config::default().path_mtu(576).is_ok());
    assert!(Config::default().min_timeout(Duration::ZERO).is_err());
    assert!(Config::default().timeout(Duration::ZERO).is_err());
}

#[test]
fn lost_data_is_resent_after_the_timeout() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 600, &Config::default());
    assert_eq!(drain(&mut t), [Sent::Data(1, 512)]); // lost
    t.handle_timeout(now + Duration::from_millis(999));
    assert_eq!(drain(&mut t), []);
    t.handle_timeout(now + secs(1));
    assert_eq!(drain(&mut t), [Sent::Data(1, 512)]);
    assert_eq!(t.poll_timeout(), Some(now + secs(2)));
    t.handle_datagram(now + secs(1), CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 88)]);
    assert_eq!(t.stats().retransmits, 1);
    assert_eq!(t.stats().timeouts, 1);
}

#[test]
fn a_lost_ack_costs_one_timeout() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 600, &Config::default());
    drain(&mut t);
    // The client got DATA 1 and its ACK 1 was lost: DATA 1 again, the client ACKs it again.
    t.handle_timeout(now + secs(1));
    assert_eq!(drain(&mut t), [Sent::Data(1, 512)]);
    t.handle_datagram(now + secs(1), CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 88)]);
    // The final ACK lost: the last block again.
    t.handle_timeout(now + secs(2));
    assert_eq!(drain(&mut t), [Sent::Data(2, 88)]);
    t.handle_datagram(now + secs(2), CLIENT, &ack(2));
    assert!(t.is_done());
}

#[test]
fn duplicate_acks_do_not_double_the_traffic() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 2000, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 512)]);
    t.handle_datagram(now, CLIENT, &ack(1)); // the Sorcerer's Apprentice's delayed duplicate
    assert_eq!(drain(&mut t), []);
    t.handle_datagram(now, CLIENT, &ack(0)); // an old one
    t.handle_datagram(now, CLIENT, &ack(9)); // never sent
    assert_eq!(drain(&mut t), []);
    assert_eq!(t.stats().stale_acks, 1);
    assert_eq!(t.stats().future_acks, 2);
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(drain(&mut t), [Sent::Data(3, 512)]);
}

#[test]
fn a_stranger_gets_error_5_and_the_transfer_goes_on() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 2000, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, STRANGER, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Error(STRANGER, 5)]);
    // ERROR from a stranger does not end it either.
    let err = Repr::Error {
        code: ErrorCode(0),
        message: "x",
    };
    t.handle_datagram(now, STRANGER, &err.to_vec().unwrap());
    assert_eq!(drain(&mut t), [Sent::Error(STRANGER, 5)]);
    assert_eq!(t.outcome(), None);
    t.handle_datagram(now, CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 512)]);
    assert_eq!(t.stats().wrong_tid, 2);
    // A flood from strangers is answered up to a bound.
    for _ in 0..100 {
        t.handle_datagram(now, STRANGER, &ack(1));
    }
    assert_eq!(drain(&mut t).len(), MAX_PENDING);
}

#[test]
fn windows_resume_after_the_block_acknowledged() {
    let now = t0();
    let mut t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("windowsize", "4")]),
        5000,
        &Config::default(),
    );
    assert_eq!(drain(&mut t), [oack(&[("windowsize", "4")])]);
    t.handle_datagram(now, CLIENT, &ack(0));
    let blocks = |v: Vec<Sent>| -> Vec<u16> {
        v.into_iter()
            .map(|s| match s {
                Sent::Data(b, _) => b,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(blocks(drain(&mut t)), [1, 2, 3, 4]);
    // Block 3 was lost: the client acknowledges 2, sending resumes at 3.
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(blocks(drain(&mut t)), [3, 4, 5, 6]);
    // And a duplicate of that ACK (one per out-of-order block) changes nothing.
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(drain(&mut t), []);
    t.handle_datagram(now, CLIENT, &ack(6));
    assert_eq!(blocks(drain(&mut t)), [7, 8, 9, 10]);
    // The whole window acknowledged late after a timeout: from the first unacknowledged.
    t.handle_timeout(now + secs(1));
    assert_eq!(blocks(drain(&mut t)), [7, 8, 9, 10]);
    t.handle_datagram(now + secs(1), CLIENT, &ack(10));
    assert!(t.is_done(), "5000 bytes are blocks 1..=10, the last of 392");
}

#[test]
fn the_timeout_adapts_to_the_round_trip() {
    let now = t0();
    let ms = Duration::from_millis;
    let mut t = Transfer::new(now, CLIENT, &[], 5000, &Config::default());
    assert_eq!(drain(&mut t), [Sent::Data(1, 512)]);
    assert_eq!(
        t.poll_timeout(),
        Some(now + secs(1)),
        "no sample yet: the full timeout"
    );
    // Round trips of 2 ms: the timeout falls to 2 + 4 × 1 = 6 ms, floored at 10 ms.
    t.handle_datagram(now + ms(2), CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 512)]);
    assert_eq!(t.poll_timeout(), Some(now + ms(12)));
    // A lost block costs 10 ms, then 20, 40: doubled on each timeout.
    t.handle_timeout(now + ms(12));
    assert_eq!(drain(&mut t), [Sent::Data(2, 512)]);
    assert_eq!(t.poll_timeout(), Some(now + ms(32)));
    t.handle_timeout(now + ms(32));
    assert_eq!(t.poll_timeout(), Some(now + ms(72)));
    drain(&mut t);
    // Karn: the ACK of a resent block is no sample; the timeout stays backed off.
    t.handle_datagram(now + ms(80), CLIENT, &ack(2));
    assert_eq!(t.poll_timeout(), Some(now + ms(80 + 40)));
    // A fresh block's ACK is a sample again: 30 ms → srtt 5.5, rttvar 7.3 → 34.75 ms.
    drain(&mut t);
    t.handle_datagram(now + ms(110), CLIENT, &ack(3));
    // rttvar = (3 × 1 + |2 − 30|) / 4 = 7.75, srtt = (7 × 2 + 30) / 8 = 5.5: 5.5 + 4 × 7.75.
    let rto = t.poll_timeout().unwrap() - (now + ms(110));
    assert_eq!(rto, Duration::from_micros(36_500));
}

#[test]
fn the_adaptive_timeout_has_a_configured_floor() {
    let now = t0();
    let mut config = Config::default();
    config.min_timeout(Duration::from_millis(50)).unwrap();
    let mut t = Transfer::new(now, CLIENT, &[], 5000, &config);
    drain(&mut t);
    t.handle_datagram(now, CLIENT, &ack(1));
    assert_eq!(t.poll_timeout(), Some(now + Duration::from_millis(50)));
}

#[test]
fn a_client_timeout_is_kept_and_silence_is_given_up_after_the_full_timeouts() {
    let now = t0();
    let ms = Duration::from_millis;
    let mut t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("timeout", "2")]),
        5000,
        &Config::default(),
    );
    drain(&mut t);
    t.handle_datagram(now + ms(1), CLIENT, &ack(0));
    drain(&mut t);
    assert_eq!(
        t.poll_timeout(),
        Some(now + ms(1) + secs(2)),
        "exactly what it asked"
    );
    // Adaptive: quick round trips, then silence. Resends back off from 10 ms; the transfer
    // gives up 6 full timeouts (retries 5 + 1) after the last progress.
    let mut t = Transfer::new(now, CLIENT, &[], 5000, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, CLIENT, &ack(1));
    drain(&mut t);
    let mut resends = 0;
    while let Some(at) = t.poll_timeout() {
        t.handle_timeout(at);
        resends += drain(&mut t)
            .iter()
            .filter(|s| matches!(s, Sent::Data(2, _)))
            .count();
        if t.is_done() {
            assert_eq!(at, now + secs(6));
        }
    }
    assert_eq!(t.outcome(), Some(Outcome::TimedOut));
    // At 10, 30, 70, 150, 310, 630 and 1270 ms (backing off), then each second until 6 s.
    assert_eq!(resends, 11);
}

#[test]
fn abort_sends_error_0_and_blocks_are_counted() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 1000, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, CLIENT, &ack(1));
    drain(&mut t);
    assert_eq!((t.stats().blocks_sent, t.stats().bytes_sent), (2, 1000));
    t.abort(ErrorCode::UNDEFINED, "Cannot read the file");
    assert_eq!(t.outcome(), Some(Outcome::Aborted));
    assert_eq!(drain(&mut t), [Sent::Error(CLIENT, 0)]);
    assert!(t.is_done());
    t.abort(ErrorCode::UNDEFINED, "again");
    assert_eq!(drain(&mut t), [], "once only");
}

#[test]
fn the_final_block_may_be_empty() {
    let now = t0();
    let mut t = Transfer::new(now, CLIENT, &[], 1024, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, CLIENT, &ack(1));
    assert_eq!(drain(&mut t), [Sent::Data(2, 512)]);
    t.handle_datagram(now, CLIENT, &ack(2));
    assert_eq!(drain(&mut t), [Sent::Data(3, 0)]);
    t.handle_datagram(now, CLIENT, &ack(3));
    assert!(t.is_done());
    let mut empty = Transfer::new(now, CLIENT, &[], 0, &Config::default());
    assert!(empty.is_empty());
    assert_eq!(drain(&mut empty), [Sent::Data(1, 0)]);
}

#[test]
fn giving_up_sends_error_0() {
    let now = t0();
    let mut config = Config::default();
    config.retries(2);
    let mut t = Transfer::new(now, CLIENT, &opts(&[("tsize", "0")]), 100, &config);
    assert_eq!(drain(&mut t), [oack(&[("tsize", "100")])]);
    for n in 1..=2 {
        t.handle_timeout(now + secs(n));
        assert_eq!(drain(&mut t), [oack(&[("tsize", "100")])]);
    }
    t.handle_timeout(now + secs(3));
    assert_eq!(t.outcome(), Some(Outcome::TimedOut));
    assert!(!t.is_done(), "the ERROR is still to be sent");
    assert_eq!(drain(&mut t), [Sent::Error(CLIENT, 0)]);
    assert!(t.is_done());
    assert_eq!(t.stats().retransmits, 2);
}

#[test]
fn a_client_error_ends_it() {
    let now = t0();
    let mut t = Transfer::new(
        now,
        CLIENT,
        &opts(&[("blksize", "1024")]),
        100,
        &Config::default(),
    );
    drain(&mut t);
    let refuse = Repr::Error {
        code: ErrorCode::OPTION_REFUSED,
        message: "no",
    };
    t.handle_datagram(now, CLIENT, &refuse.to_vec().unwrap());
    assert_eq!(t.outcome(), Some(Outcome::PeerError(ErrorCode(8))));
    assert!(t.is_done());
    // A malformed ERROR ends it too; garbage is counted and ignored.
    let mut t = Transfer::new(now, CLIENT, &[], 100, &Config::default());
    drain(&mut t);
    t.handle_datagram(now, CLIENT, b"\x00\x03\x00\x01x");
    t.handle_datagram(now, CLIENT, b"\x00");
    assert_eq!(t.stats().malformed, 2);
    t.handle_datagram(now, CLIENT, b"\x00\x05\x00\x03");
    assert_eq!(t.outcome(), Some(Outcome::PeerError(ErrorCode(3))));
}

/// An RFC 7440 receiver: ACKs each full window, the last in-order block on a gap or a timeout,
/// and the final block whenever it comes again.
struct Client {
    blksize: usize,
    window: u16,
    next: u64,
    in_window: u16,
    data: Vec<u8>,
    done: bool,
    deadline: Instant,
    timeout: Duration,
    wire_blocks: Vec<u16>,
}

impl Client {
    fn new(now: Instant, blksize: usize, window: u16) -> Self {
        Self {
            blksize,
            window,
            next: 1,
            in_window: 0,
            data: Vec::new(),
            done: false,
            deadline: now + secs(3),
            timeout: secs(3),
            wire_blocks: Vec::new(),
        }
    }

    /// A DATA packet; returns the ACK to send, if any.
    fn on_data(&mut self, now: Instant, block: u16, payload: &[u8]) -> Option<u16> {
        self.deadline = now + self.timeout;
        if block == self.next as u16 && !self.done {
            self.wire_blocks.push(block);
            self.data.extend_from_slice(payload);
            self.next += 1;
            self.in_window += 1;
            if payload.len() < self.blksize {
                self.done = true;
                return Some(block);
            }
            if self.in_window == self.window {
                self.in_window = 0;
                return Some(block);
            }
            None
        } else {
            self.in_window = 0;
            Some((self.next - 1) as u16)
        }
    }

    fn on_timeout(&mut self, now: Instant) -> Option<u16> {
        if now < self.deadline {
            return None;
        }
        self.deadline = now + self.timeout;
        self.in_window = 0;
        Some((self.next - 1) as u16)
    }
}

/// Runs a whole transfer of `content` over a link that drops each datagram with probability
/// `loss`, and returns the client and the transfer.
fn run(content: &[u8], asked: &[TftpOption<'_>], loss: f64, seed: u64) -> (Client, Transfer) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut now = t0();
    let mut config = Config::default();
    config.retries(1000);
    let mut t = Transfer::new(now, CLIENT, asked, content.len() as u64, &config);
    let n = t.negotiated();
    let mut client = Client::new(now, usize::from(n.blksize), n.windowsize);
    let mut to_server: Vec<u16> = Vec::new();
    if !n.oack {
        // No OACK: the client starts waiting for DATA 1 straight away.
    }
    let mut steps = 0u64;
    while !t.is_done() {
        steps += 1;
        assert!(steps < 10_000_000, "stalled");
        let mut to_client = Vec::new();
        while let Some(x) = t.poll_transmit() {
            if rng.gen_bool(loss) {
                continue;
            }
            to_client.push(x);
        }
        for x in to_client {
            match x {
                Transmit::Data {
                    block, offset, len, ..
                } => {
                    let o = offset as usize;
                    if let Some(a) = client.on_data(now, block, &content[o..o + len]) {
                        to_server.push(a);
                    }
                }
                Transmit::Packet { bytes, .. } => match Repr::parse(&bytes).unwrap() {
                    Repr::Oack { .. } => to_server.push(0),
                    other => panic!("{other:?}"),
                },
            }
        }
        let delivered: Vec<u16> = to_server
            .drain(..)
            .filter(|_| !rng.gen_bool(loss))
            .collect();
        for a in &delivered {
            t.handle_datagram(now, CLIENT, &ack(*a));
        }
        if delivered.is_empty() && t.poll_transmit_is_idle() {
            // Nothing in flight: jump to the earliest timer.
            let next = t.poll_timeout().unwrap().min(client.deadline);
            now = now.max(next);
            t.handle_timeout(now);
            if let Some(a) = client.on_timeout(now) {
                to_server.push(a);
            }
        }
    }
    (client, t)
}

impl Transfer {
    /// Whether nothing is due to be sent now (test helper; `poll_transmit` is not a peek).
    fn poll_transmit_is_idle(&self) -> bool {
        self.pending.is_empty()
            && (self.oack.is_some() && !self.oack_due
                || self.oack.is_none()
                    && (self.next > self.last
                        || self.next > self.acked + u64::from(self.negotiated.windowsize)))
    }
}

#[test]
fn block_numbers_roll_over_past_65535() {
    // 70,000 blocks of 8 bytes: the wire numbers go 65535, 0, 1, … as tftp-hpa and curl expect.
    let content: Vec<u8> = (0..560_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let (client, t) = run(
        &content,
        &opts(&[("blksize", "8"), ("windowsize", "64")]),
        0.0,
        1,
    );
    assert_eq!(t.outcome(), Some(Outcome::Completed));
    assert_eq!(client.data, content);
    assert_eq!(client.wire_blocks[65534..65538], [65535, 0, 1, 2]);
    assert_eq!(client.wire_blocks.len(), 70_001);
    assert_eq!(t.stats().retransmits, 0);
}

#[test]
fn a_windowed_transfer_through_1_percent_loss_finishes() {
    let content: Vec<u8> = (0..10_000_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    let asked = opts(&[("blksize", "1468"), ("windowsize", "64")]);
    let (client, t) = run(&content, &asked, 0.01, 7);
    assert_eq!(t.outcome(), Some(Outcome::Completed));
    assert!(client.data == content, "byte-exact");
    assert!(t.stats().retransmits > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn a_lossy_link_delivers_the_exact_file(
        len in 0usize..20_000,
        blksize in prop::sample::select(vec![8u16, 13, 512, 1468]),
        window in 1u16..20,
        loss in 0.0f64..0.3,
        seed in any::<u64>(),
    ) {
        let content: Vec<u8> = (0..len).map(|i| (i * 31 + i / 7) as u8).collect();
        let b = blksize.to_string();
        let w = window.to_string();
        let asked = opts(&[("blksize", &b), ("windowsize", &w), ("tsize", "0")]);
        let (client, t) = run(&content, &asked, loss, seed);
        prop_assert_eq!(t.outcome(), Some(Outcome::Completed));
        prop_assert_eq!(client.data, content);
    }
}
