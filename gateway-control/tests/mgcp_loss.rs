//! The call agent against the real gateway simulator core over a lossy network, in virtual
//! time: 20 % of datagrams lost and 20 % duplicated in both directions (seeded), with 1–20 ms
//! of delay (so duplicates and retransmissions also arrive out of order).
//!
//! Checks that every model command takes effect exactly once on the gateway, every line event
//! is reported exactly once and in order, every line ends armed, and the retransmissions seen on
//! the wire follow RFC 3435 §4.3 (200 ms, doubling, capped at 4 s).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::mgcp::{CallAgent, Config, GatewayConfig};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, Digit, Event, GatewayId, LineId, Media, Tone,
};
use gateway_harness::{Lossy, Pair, Sent, Side};
use gateway_sim::{self as sim, ConnectionAction, Gateway, LineCommand, Output};

const LINES: u16 = 8;
const LOSS: f64 = 0.2;
const DUPLICATION: f64 = 0.2;

fn ca_addr() -> SocketAddr {
    "127.0.0.1:2727".parse().unwrap()
}

fn gw_addr() -> SocketAddr {
    "127.0.0.1:2427".parse().unwrap()
}

fn line(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

/// The agent, the simulated gateway, and a lossy network between them.
type World = Pair<CallAgent, Gateway>;

fn world(seed: u64) -> World {
    with_lines(seed, LINES)
}

/// 20 % of datagrams lost, 20 % duplicated, 1–20 ms of delay, all drawn from `seed`; every
/// datagram put on the link recorded.
fn with_lines(seed: u64, lines: u16) -> World {
    let start = t0();
    let mut cfg = Config::default();
    cfg.gateway(GatewayConfig {
        id: GatewayId::new("gw1"),
        address: gw_addr(),
        domain: "[127.0.0.1]".into(),
        lines: (1..=lines).map(|n| format!("aaln/{n}")).collect(),
    })
    .unwrap()
    .notified_entity("ca@[127.0.0.1]:2727")
    .unwrap()
    .max_outstanding(4)
    .unwrap()
    .rng_seed(seed)
    .unwrap();
    let agent = CallAgent::new(cfg, start).unwrap();
    let mut gcfg = sim::Config::new(lines, ca_addr()).unwrap();
    gcfg.seed(seed ^ 0xABCD);
    let mut gw = Gateway::new(gcfg, start);
    for p in 0..16 {
        gw.add_rtp_port(16_384 + 2 * p);
    }
    let link = Lossy::new(seed)
        .loss(LOSS)
        .duplication(DUPLICATION)
        .delay(ms(1), ms(20));
    let mut w = Pair::new(agent, ca_addr(), gw, gw_addr(), start, link);
    w.record();
    w.run(Duration::ZERO);
    w
}

fn digit(c: char) -> Digit {
    Digit::new(c).unwrap()
}

/// The RFC 3435 §4.3 gaps between successive sends of one command: 200 ms doubling, 4 s cap.
fn expected_gaps() -> Vec<Duration> {
    let mut gap = ms(200);
    (0..7)
        .map(|_| {
            let g = gap;
            gap = (gap * 2).min(ms(4000));
            g
        })
        .collect()
}

/// The messages of a datagram: one, or several piggy-backed (RFC 3435 §3.5.5) between `.` lines.
fn messages(datagram: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(datagram);
    let mut out = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "." {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push_str(line);
        }
    }
    out
}

/// Groups commands by transaction id (first line) and returns the gaps between their sends.
/// Piggy-backed commands count one by one: each is retransmitted on its own timer.
fn retransmission_gaps(sent: &[Sent], to: Side) -> Vec<(String, Vec<Duration>)> {
    let mut by_tx: HashMap<String, Vec<Duration>> = HashMap::new();
    let mut order = Vec::new();
    for Sent {
        at,
        to: dir,
        contents: bytes,
    } in sent
    {
        if *dir != to {
            continue;
        }
        for text in messages(bytes) {
            if !text.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue; // responses and acks are not retransmitted by the sender's timer
            }
            let first = text.lines().next().unwrap_or_default().to_owned();
            let key: String = first
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            if !by_tx.contains_key(&key) {
                order.push(key.clone());
            }
            by_tx.entry(key).or_default().push(*at);
        }
    }
    order
        .into_iter()
        .map(|k| {
            let times = &by_tx[&k];
            let gaps = times.windows(2).map(|w| w[1] - w[0]).collect();
            (k, gaps)
        })
        .collect()
}

#[test]
fn lossy_network_every_command_once_every_line_armed() {
    for seed in SEEDS {
        scenario(seed);
    }
}

/// The seeds the scenario runs with (each a different pattern of loss and duplication).
const SEEDS: [u64; 20] = [
    2026, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
];

fn scenario(seed: u64) -> World {
    eprintln!("seed {seed}");
    let mut w = world(seed);

    // Start-up: the gateway announces itself, the agent audits and arms every line.
    w.run(Duration::from_secs(30));
    let events = w.take_events();
    assert!(
        matches!(
            events
                .iter()
                .rev()
                .find(|e| matches!(e, Event::GatewayUp { .. } | Event::GatewayDown { .. })),
            Some(Event::GatewayUp { .. })
        ),
        "{events:?}"
    );
    for n in 1..=LINES {
        assert_eq!(w.controller.is_armed(&line(n)), Some(true), "line {n}");
        assert!(events.contains(&Event::LineStatus {
            line: line(n),
            off_hook: false
        }));
    }
    assert!(w.gateway.is_registered());

    // Line 1: pick up, dial, flash, hang up — each reported exactly once, in order.
    w.take_outputs();
    w.line(LineCommand::OffHook(1));
    w.run(Duration::from_secs(10));
    w.line(LineCommand::Digits(1, "123#".into()));
    w.run(Duration::from_secs(10));
    w.line(LineCommand::Flash(1));
    w.run(Duration::from_secs(10));
    w.line(LineCommand::OnHook(1));
    w.run(Duration::from_secs(10));
    assert_eq!(
        w.take_events(),
        vec![
            Event::OffHook { line: line(1) },
            Event::Digit {
                line: line(1),
                digit: digit('1')
            },
            Event::Digit {
                line: line(1),
                digit: digit('2')
            },
            Event::Digit {
                line: line(1),
                digit: digit('3')
            },
            Event::Digit {
                line: line(1),
                digit: digit('#')
            },
            Event::HookFlash { line: line(1) },
            Event::OnHook { line: line(1) },
        ]
    );

    // Line 2: ring, then stop.
    w.command(Command::Ring {
        line: line(2),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    w.run(Duration::from_secs(10));
    assert_eq!(w.gateway.is_ringing(2), Some(true));
    w.command(Command::StopRing { line: line(2) });
    w.run(Duration::from_secs(10));
    assert_eq!(w.gateway.is_ringing(2), Some(false));

    // Line 3: a connection, created and deleted once each.
    w.command(Command::CreateConnection {
        line: line(3),
        call: CallId(0xC0FFEE),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: Some(Media {
            address: "127.0.0.1:40000".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: ms(20),
            telephone_event: None,
        }),
    });
    w.run(Duration::from_secs(10));
    assert_eq!(w.gateway.connections(3).len(), 1);
    w.command(Command::DeleteConnection {
        line: line(3),
        call: CallId(0xC0FFEE),
    });
    w.run(Duration::from_secs(10));
    assert!(w.gateway.connections(3).is_empty());
    let events = w.take_events();
    let created: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::ConnectionCreated { .. }))
        .collect();
    assert_eq!(created.len(), 1, "{events:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::ConnectionDeleted { .. }))
            .count(),
        1
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::CommandFailed { .. })),
        "{events:?}"
    );

    // Line 4: off hook, dial tone, a digit stops it.
    w.line(LineCommand::OffHook(4));
    w.run(Duration::from_secs(10));
    w.command(Command::PlayTone {
        line: line(4),
        tone: Tone::Dial,
    });
    w.run(Duration::from_secs(10));
    w.line(LineCommand::Digits(4, "5".into()));
    w.run(Duration::from_secs(10));
    assert_eq!(
        w.take_events(),
        vec![
            Event::OffHook { line: line(4) },
            Event::Digit {
                line: line(4),
                digit: digit('5')
            },
        ]
    );

    // On the gateway, every command took effect once: one connection created and deleted,
    // one dial tone, and no transaction executed twice.
    let outputs = w.take_outputs();
    let count = |f: &dyn Fn(&Output) -> bool| outputs.iter().filter(|o| f(o)).count();
    assert_eq!(
        count(&|o| matches!(
            o,
            Output::Connection {
                action: ConnectionAction::Created,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&|o| matches!(
            o,
            Output::Connection {
                action: ConnectionAction::Deleted,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(&|o| matches!(o, Output::Signal { line: 4, name, .. } if name == "L/dl")),
        1
    );
    assert_eq!(
        count(&|o| matches!(o, Output::Signal { line: 2, name, .. } if name == "L/rg")),
        1
    );
    let mut executed = HashMap::new();
    for o in &outputs {
        if let Output::Command { transaction, .. } = o {
            *executed.entry(*transaction).or_insert(0) += 1;
        }
    }
    assert!(executed.values().all(|&n| n == 1), "{executed:?}");

    // Every line ends armed: the agent says so, and every line's pick-up is reported.
    w.run(Duration::from_secs(30));
    for n in 1..=LINES {
        assert_eq!(w.controller.is_armed(&line(n)), Some(true), "line {n}");
    }
    for n in [2, 3, 5, 6, 7, 8] {
        w.line(LineCommand::OffHook(n));
    }
    w.run(Duration::from_secs(20));
    let events = w.take_events();
    for n in [2, 3, 5, 6, 7, 8] {
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == Event::OffHook { line: line(n) })
                .count(),
            1,
            "line {n}: {events:?}"
        );
    }

    // Retransmissions on the wire follow §4.3, in both directions.
    let want = expected_gaps();
    let mut retransmitted = 0;
    for to in [Side::Gateway, Side::Controller] {
        for (tx, gaps) in retransmission_gaps(w.sent(), to) {
            assert!(gaps.len() <= want.len(), "{tx}: {gaps:?}");
            assert_eq!(gaps, want[..gaps.len()], "{tx} ({to:?})");
            retransmitted += usize::from(!gaps.is_empty());
        }
    }
    let st = w.controller.stats();
    eprintln!(
        "lost {} duplicated {} of {} datagrams; agent: {} commands, {} retransmissions, \
         {} duplicate commands answered from history, {} timeouts; {} transactions retransmitted",
        w.wire.stats().lost,
        w.wire.stats().duplicated,
        w.sent().len(),
        st.transaction.commands_sent,
        st.transaction.retransmissions,
        st.transaction.responses_replayed + st.transaction.duplicates_after_ack,
        st.timeouts,
        retransmitted,
    );
    assert!(retransmitted > 10, "the loss must have been exercised");
    // Piggy-backing was exercised too: NTFY answers ride with their re-arms.
    let packed = w
        .sent()
        .iter()
        .filter(|s| s.to == Side::Gateway && messages(&s.contents).len() > 1)
        .count();
    assert!(
        packed > 0 && st.piggybacked > 0,
        "{packed} packed datagrams"
    );
    assert!(w.wire.stats().lost > 0 && w.wire.stats().duplicated > 0);
    assert_eq!(st.timeouts, 0);
    w
}

/// Everything both sides sent in one lossy run, read back by Wireshark's MGCP dissector: no
/// frame malformed or flagged, every datagram is MGCP.
#[test]
fn the_lossy_exchange_reads_clean_in_tshark() {
    use std::net::SocketAddrV4;

    use gateway_control::pcap::PcapWriter;

    let w = scenario(2026);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let mut pcap = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    let (ca, gw): (SocketAddrV4, SocketAddrV4) = (
        "192.0.2.1:2727".parse().unwrap(),
        "192.0.2.2:2427".parse().unwrap(),
    );
    for Sent {
        at,
        to,
        contents: bytes,
    } in w.sent()
    {
        let (src, dst) = match to {
            Side::Gateway => (ca, gw),
            Side::Controller => (gw, ca),
        };
        pcap.write_udp(*at + Duration::from_secs(1_000_000_000), src, dst, bytes)
            .unwrap();
    }
    pcap.flush().unwrap();
    drop(pcap);
    support::assert_clean(&path);
    let verbs = support::tshark(&path, &["-T", "fields", "-e", "mgcp.req.verb"]);
    for verb in ["RSIP", "AUEP", "RQNT", "NTFY", "CRCX", "DLCX"] {
        assert!(verbs.contains(verb), "{verb} missing from the capture");
    }
}

/// A thousand lines behind one gateway, armed at once through the lossy network: pacing keeps
/// at most `max_outstanding` (4 here) commands in flight, nothing times out, every line ends
/// armed and reports its pick-up.
#[test]
fn a_thousand_lines_are_armed_under_loss() {
    const MANY: u16 = 1000;
    let mut w = with_lines(77, MANY);
    let mut most = 0;
    let mut all_armed_at = None;
    for _ in 0..600 {
        w.run(ms(500));
        most = most.max(w.controller.backlog(&GatewayId::new("gw1")).unwrap().1);
        if all_armed_at.is_none()
            && (1..=MANY).all(|n| w.controller.is_armed(&line(n)) == Some(true))
        {
            all_armed_at = Some(w.elapsed());
        }
    }
    assert!(most <= 4, "{most}");
    for n in 1..=MANY {
        assert_eq!(w.controller.is_armed(&line(n)), Some(true), "line {n}");
    }
    assert_eq!(w.controller.stats().timeouts, 0);
    w.take_events();
    for n in (1..=MANY).step_by(37) {
        w.line(LineCommand::OffHook(n));
    }
    w.run(Duration::from_secs(30));
    let events = w.take_events();
    for n in (1..=MANY).step_by(37) {
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == Event::OffHook { line: line(n) })
                .count(),
            1,
            "line {n}"
        );
    }
    let st = w.controller.stats();
    eprintln!(
        "1000 lines: all armed after {all_armed_at:?}; {} commands, {} retransmissions, {} audits, \
         {} RQNTs, in {:?} virtual",
        st.transaction.commands_sent,
        st.transaction.retransmissions,
        st.audits_sent,
        st.rqnts_sent,
        w.elapsed()
    );
}
