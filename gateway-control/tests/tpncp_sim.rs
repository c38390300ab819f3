//! The TPNCP host against the simulated board (`gateway_sim::tpncp::Board`), both sans-IO, in
//! virtual time: over UDP through the harness's lossy link (in both byte orders), and over a
//! simulated TCP connection that cuts the byte stream in random pieces, closes, refuses and
//! reopens.
//!
//! What the board did is read from its outputs (the commands it executed, its signals and
//! connections); what the host reported from its model events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{
    Cadence, CallId, CallerId, Codec, Command, ConnectionMode, Digit, DigitMap, DownReason, Event,
    GatewayId, LineId, Media,
};
use gateway_control::tpncp::controller::{Config, GatewayConfig, Host, Link, LinkId, Transport};
use gateway_control::tpncp::wire::{ByteOrder, Deframer};
use gateway_harness::{Lossy, Pair};
use gateway_sim::tpncp::{self, Board, Disconnect};
use gateway_sim::{ConnectionAction, LineCommand, Output, Simulator, Via};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LINES: usize = 4;

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn host_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn board_addr() -> SocketAddr {
    "127.0.0.1:2424".parse().unwrap()
}

fn gw() -> GatewayId {
    GatewayId::new("mp114")
}

fn line(n: usize) -> LineId {
    LineId::new(gw(), &n.to_string())
}

fn host(transport: Transport, order: ByteOrder, now: Instant) -> Host {
    let channels: Vec<String> = (0..LINES).map(|c| c.to_string()).collect();
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    let mut g = GatewayConfig::new(gw(), Some(board_addr()), &names);
    g.transport = transport;
    g.byte_order = order;
    Host::new(
        Config {
            gateways: vec![g],
            rng_seed: 3,
            ..Config::default()
        },
        now,
    )
    .unwrap()
}

fn board(order: ByteOrder) -> Board {
    let mut c = tpncp::Config::new(LINES).unwrap();
    c.byte_order = order;
    Board::new(c).unwrap()
}

fn remote() -> Media {
    Media {
        address: "127.0.0.1:16384".parse().unwrap(),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: Some(101),
    }
}

/// Every command the board answered: (line, verb, code).
fn executed(outputs: &[Output]) -> Vec<(Option<u16>, &'static str, i32)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::HostCommand {
                line, verb, code, ..
            } => Some((*line, *verb, *code)),
            _ => None,
        })
        .collect()
}

fn is_up_with_statuses(events: &[Event]) -> bool {
    events.first() == Some(&Event::GatewayUp { gateway: gw() })
        && events
            .iter()
            .filter(|e| matches!(e, Event::LineStatus { .. }))
            .count()
            == LINES
}

/// A call's worth of commands and events, checked on both sides; `run` moves time on.
fn a_call<
    C: FnMut(Command),
    L: FnMut(LineCommand),
    R: FnMut(Duration) -> (Vec<Event>, Vec<Output>),
>(
    mut command: C,
    mut phone: L,
    mut run: R,
) {
    command(Command::Ring {
        line: line(1),
        cadence: Cadence::Distinctive(2),
        caller_id: Some(CallerId {
            number: Some("5551234".into()),
            name: Some("Alice".into()),
        }),
    });
    let (_, outputs) = run(Duration::from_secs(1));
    assert!(
        executed(&outputs).contains(&(Some(2), "acCMD_ANALOG_IF_DISTINCTIVE_RING", 0)),
        "{outputs:?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Ringing { line: 2, on: true })),
        "{outputs:?}"
    );
    phone(LineCommand::OffHook(2));
    let (events, _) = run(Duration::from_secs(1));
    assert_eq!(events, vec![Event::OffHook { line: line(1) }]);
    command(Command::StopRing { line: line(1) });
    command(Command::CollectDigits {
        line: line(1),
        map: DigitMap::parse("(xxxx|*xx)").unwrap(),
    });
    command(Command::CreateConnection {
        line: line(1),
        call: CallId(9),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(remote()),
    });
    phone(LineCommand::Digits(2, "1234".into()));
    let (events, outputs) = run(Duration::from_secs(2));
    let dialled: Vec<Digit> = "1234".chars().filter_map(Digit::new).collect();
    assert!(
        events.contains(&Event::Dialled {
            line: line(1),
            digits: dialled
        }),
        "{events:?}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::ConnectionCreated { line: l, call: CallId(9), local }
            if *l == line(1) && local.address == "127.0.0.1:6010".parse::<SocketAddr>().unwrap())
        ),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Digit { .. })));
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Connection { line: 2, remote: Some(r), .. } if *r == remote().address)),
        "{outputs:?}"
    );
    command(Command::DeleteConnection {
        line: line(1),
        call: CallId(9),
    });
    phone(LineCommand::OnHook(2));
    let (events, outputs) = run(Duration::from_secs(1));
    assert!(
        events.contains(&Event::ConnectionDeleted {
            line: line(1),
            call: CallId(9)
        }),
        "{events:?}"
    );
    assert!(events.contains(&Event::OnHook { line: line(1) }));
    assert!(
        executed(&outputs).contains(&(Some(2), "acCMD_CLOSE_CHANNEL", 0)),
        "{outputs:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// UDP, through the harness

fn pair(link: Lossy) -> Pair<Host, Board> {
    pair_in(ByteOrder::Big, link)
}

fn pair_in(order: ByteOrder, link: Lossy) -> Pair<Host, Board> {
    let now = t0();
    Pair::new(
        host(Transport::Udp, order, now),
        host_addr(),
        board(order),
        board_addr(),
        now,
        link,
    )
}

/// A LAN: no loss, duplication or reordering, only a delay. (A call cannot survive events lost
/// or reordered by the network: TPNCP's events carry no acknowledgement, so a lost off-hook
/// stays lost and digits reordered stay so. Commands can: see the next test.)
#[test]
fn a_call_over_udp() {
    let link = Lossy::new(11).delay(Duration::from_millis(3), Duration::from_millis(3));
    let p = std::cell::RefCell::new(pair(link));
    assert!(
        p.borrow_mut()
            .run_until(Duration::from_secs(5), |p| is_up_with_statuses(&p.events))
    );
    p.borrow_mut().take_events();
    a_call(
        |c| p.borrow_mut().command(c),
        |l| p.borrow_mut().line(l),
        |d| {
            let mut p = p.borrow_mut();
            p.run(d);
            (p.take_events(), p.take_outputs())
        },
    );
    let p = p.into_inner();
    let s = p.controller.stats();
    assert_eq!(
        (s.acks_unmatched, s.sessions_lost, s.retransmits),
        (0, 0, 0)
    );
    assert_eq!(p.gateway.stats().refused, 0, "{:?}", p.gateway.stats());
}

#[test]
fn udp_commands_get_through_a_lossy_link() {
    // Every fifth datagram lost, both ways: commands are retransmitted until acknowledged.
    let mut p = pair(Lossy::new(5).lose_every(5));
    assert!(p.run_until(Duration::from_secs(20), |p| is_up_with_statuses(&p.events)));
    p.take_events();
    p.take_outputs();
    for n in 0..20 {
        p.command(Command::PlayTone {
            line: line(n % LINES),
            tone: gateway_control::model::Tone::Busy,
        });
        p.command(Command::StopTone {
            line: line(n % LINES),
        });
    }
    p.run(Duration::from_secs(30));
    let events = p.take_events();
    assert!(events.is_empty(), "{events:?}");
    let tones = executed(&p.take_outputs())
        .iter()
        .filter(|(_, v, code)| *v == "acCMD_PLAY_TONE" && *code == 0)
        .count();
    assert!(tones >= 20, "{tones}");
    let s = p.controller.stats();
    assert!(s.retransmits > 0 && s.ack_timeouts == 0, "{s:?}");
    // A command whose ack was lost came again: answered again, not carried out twice.
    let b = p.gateway.stats();
    assert!(b.duplicates > 0 && b.refused == 0, "{b:?}");
}

#[test]
fn udp_commands_duplicated_by_the_network_are_carried_out_once() {
    // A third of the datagrams arrive twice, both ways: the board answers a repeated command
    // again without carrying it out twice (an open channel is not refused as open), and the
    // host counts the second acknowledgement and does nothing with it.
    let mut p = pair(Lossy::new(7).duplication(0.3));
    assert!(p.run_until(Duration::from_secs(20), |p| is_up_with_statuses(&p.events)));
    p.take_events();
    for n in 0..LINES {
        p.command(Command::CreateConnection {
            line: line(n),
            call: CallId(n as u64 + 1),
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: Some(remote()),
        });
    }
    p.run(Duration::from_secs(5));
    let created = p
        .take_events()
        .iter()
        .filter(|e| matches!(e, Event::ConnectionCreated { .. }))
        .count();
    assert_eq!(created, LINES);
    let (s, b) = (p.controller.stats(), p.gateway.stats());
    assert!(b.duplicates > 0 && b.refused == 0, "{b:?}");
    assert!(s.acks_unmatched > 0 && s.jobs_failed == 0, "{s:?}");
}

#[test]
fn a_board_cut_off_goes_down_and_comes_back_resynced() {
    let mut p = pair(Lossy::new(1));
    assert!(p.run_until(Duration::from_secs(5), |p| is_up_with_statuses(&p.events)));
    p.take_events();
    // Ringing when the link goes.
    p.command(Command::Ring {
        line: line(0),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    p.run(Duration::from_secs(1));
    p.take_outputs();
    p.wire.set_cut(true);
    let t_cut = p.elapsed();
    assert!(p.run_until(Duration::from_secs(30), |p| p.events.contains(
        &Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Unreachable
        }
    )));
    // Silent for the keep-alive (10 s since the ring's acknowledgement, a second before the
    // cut), then a probe unanswered for 4 s.
    let down = p.elapsed() - t_cut;
    assert_eq!(down, Duration::from_secs(13));
    p.take_events();
    p.run(Duration::from_secs(20));
    assert!(p.take_events().is_empty(), "nothing while cut");
    p.wire.set_cut(false);
    assert!(p.run_until(Duration::from_secs(120), |p| is_up_with_statuses(&p.events)));
    // The re-sync stopped the ring the board kept while the host was away.
    let outputs = p.take_outputs();
    assert!(
        executed(&outputs).contains(&(Some(1), "acCMD_ANALOG_IF_DISTINCTIVE_RING", 0)),
        "{outputs:?}"
    );
    assert!(
        !p.gateway
            .poll_output()
            .is_some_and(|o| matches!(o, Output::Ringing { on: true, .. }))
    );
    assert!(p.controller.is_up(&gw()));
}

/// In `order` on a perfect link: the host's re-sync, a ring with caller id answered by an
/// off-hook, a connection that carries a `say`, digits, the connection deleted and the phone
/// hung up — with nothing refused by the board and nothing failed at the host.
fn flow_in(order: ByteOrder) {
    let mut p = pair_in(order, Lossy::default());
    // Each step is followed by 100 ms for its answers.
    let step = Duration::from_millis(100);
    p.run(Duration::from_secs(2));
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::GatewayUp { .. })),
        "{:?}",
        p.events
    );
    assert!(p.controller.is_up(&gw()));
    p.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Distinctive(2),
        caller_id: Some(CallerId {
            number: Some("2041".into()),
            name: Some("Alice".into()),
        }),
    });
    p.run(step);
    assert!(
        p.outputs.contains(&Output::Signal {
            line: 2,
            name: "ring".into(),
            params: Some("pattern=2 number=2041 name=Alice".into()),
        }),
        "{:?}",
        p.outputs
    );
    p.run(Duration::from_secs(3));
    p.line(LineCommand::OffHook(2));
    p.run(step);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::OffHook { line: l } if *l == line(1))),
        "{:?}",
        p.events
    );
    p.command(Command::StopRing { line: line(1) });
    p.run(step);
    p.command(Command::CreateConnection {
        line: line(1),
        call: CallId(7),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcma,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "127.0.0.1:16400".parse().unwrap(),
            codec: Codec::Pcma,
            ptime: Duration::from_millis(20),
            telephone_event: Some(101),
        }),
    });
    p.run(step);
    let created = p.events.iter().find_map(|e| match e {
        Event::ConnectionCreated { local, .. } => Some(*local),
        _ => None,
    });
    let local = created.unwrap_or_else(|| panic!("no connection: {:?}", p.events));
    assert_eq!(local.address.port(), 6010);
    assert!(p.outputs.iter().any(|o| matches!(
        o,
        Output::Connection { line: 2, action: ConnectionAction::Created, codec: "PCMA", local, .. }
            if local.port() == 6010
    )));
    p.line(LineCommand::Say {
        line: 2,
        samples: vec![500; 1600],
    });
    p.run(step);
    p.run(Duration::from_millis(300));
    assert_eq!(p.rtp, 10);
    p.line(LineCommand::Digits(2, "12#".into()));
    p.run(step);
    p.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(7),
    });
    p.run(step);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::ConnectionDeleted { .. })),
        "{:?}",
        p.events
    );
    p.line(LineCommand::OnHook(2));
    p.run(step);
    p.run(Duration::from_secs(30));
    let refused: Vec<_> = p
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::HostCommand { code, .. } if *code != 0))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let b = p.gateway.stats();
    assert_eq!(b.refused, 0, "{b:?}");
    assert_eq!(b.malformed + b.unknown_commands, 0, "{b:?}");
    let failed: Vec<_> = p
        .events
        .iter()
        .filter(|e| matches!(e, Event::CommandFailed { .. } | Event::GatewayDown { .. }))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(p.events.iter().any(|e| matches!(e, Event::OnHook { .. })));
}

#[test]
fn host_and_board_big_endian() {
    flow_in(ByteOrder::Big);
}

#[test]
fn host_and_board_little_endian() {
    flow_in(ByteOrder::Little);
}

// ---------------------------------------------------------------------------------------------
// TCP, through a simulated connection

/// The host and the board joined by a simulated TCP connection: the host's writes reach the
/// board message by message (as its driver deframes them); the board's reach the host in
/// random pieces. `accepting` says whether the board's listener takes connections.
struct Tcp {
    host: Host,
    board: Board,
    now: Instant,
    link: Option<LinkId>,
    accepting: bool,
    deframer: Deframer,
    rng: StdRng,
    events: Vec<Event>,
    outputs: Vec<Output>,
    connects: Vec<Duration>,
    start: Instant,
}

impl Tcp {
    fn new(seed: u64) -> Self {
        let now = t0();
        let mut t = Self {
            host: host(Transport::Tcp, ByteOrder::Big, now),
            board: board(ByteOrder::Big),
            now,
            link: None,
            accepting: true,
            deframer: Deframer::new(),
            rng: StdRng::seed_from_u64(seed),
            events: Vec::new(),
            outputs: Vec::new(),
            connects: Vec::new(),
            start: now,
        };
        t.pump();
        t
    }

    /// Moves everything until both sides are quiet.
    fn pump(&mut self) {
        let mut links: VecDeque<Link> = VecDeque::new();
        loop {
            links.extend(std::iter::from_fn(|| self.host.poll_link()));
            let mut moved = false;
            while let Some(l) = links.pop_front() {
                moved = true;
                match l {
                    Link::Connect { link, address, .. } => {
                        assert_eq!(address, board_addr());
                        self.connects.push(self.now - self.start);
                        if self.accepting {
                            self.link = Some(link);
                            self.deframer = Deframer::new();
                            self.host.handle_connected(self.now, link);
                            self.board.handle_connected(self.now, host_addr());
                        } else {
                            self.host.handle_closed(self.now, link);
                        }
                    }
                    Link::Write { link, bytes, .. } => {
                        assert_eq!(Some(link), self.link);
                        self.deframer.push(&bytes);
                        while let Some(m) = self.deframer.next() {
                            let m = m.expect("the host frames correctly");
                            Simulator::handle_datagram(
                                &mut self.board,
                                self.now,
                                Via::Control,
                                host_addr(),
                                &m,
                            );
                        }
                    }
                    Link::Close { link, .. } => {
                        if self.link == Some(link) {
                            self.link = None;
                            self.board.handle_disconnected(
                                self.now,
                                host_addr(),
                                Disconnect::Closed,
                            );
                        }
                    }
                }
                links.extend(std::iter::from_fn(|| self.host.poll_link()));
            }
            let mut stream = Vec::new();
            while let Some(t) = Simulator::poll_transmit(&mut self.board) {
                moved = true;
                if t.via == Via::Control && t.destination == host_addr() && self.link.is_some() {
                    stream.extend(t.contents);
                }
            }
            while !stream.is_empty() {
                let n = self.rng.gen_range(1..=stream.len());
                let piece: Vec<u8> = stream.drain(..n).collect();
                if let Some(link) = self.link {
                    self.host.handle_stream(self.now, link, &piece);
                }
            }
            self.events
                .extend(std::iter::from_fn(|| self.host.poll_event()));
            self.outputs.extend(std::iter::from_fn(|| {
                Simulator::poll_output(&mut self.board)
            }));
            if !moved {
                return;
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = [
                self.host.poll_timeout(),
                Simulator::poll_timeout(&self.board),
            ]
            .into_iter()
            .flatten()
            .min()
            .filter(|t| *t <= end);
            let Some(next) = next else {
                self.now = end;
                return;
            };
            self.now = self.now.max(next);
            if self.host.poll_timeout().is_some_and(|t| t <= self.now) {
                self.host.handle_timeout(self.now);
            }
            if Simulator::poll_timeout(&self.board).is_some_and(|t| t <= self.now) {
                Simulator::handle_timeout(&mut self.board, self.now);
            }
        }
    }

    /// The board's side of the connection breaks.
    fn drop_connection(&mut self) {
        let link = self.link.take().expect("connected");
        self.board
            .handle_disconnected(self.now, host_addr(), Disconnect::Io("reset".into()));
        self.host.handle_closed(self.now, link);
        self.pump();
    }
}

#[test]
fn a_call_over_tcp_with_the_stream_in_random_pieces() {
    let t = std::cell::RefCell::new(Tcp::new(4));
    t.borrow_mut().run(Duration::from_secs(1));
    assert!(is_up_with_statuses(&std::mem::take(
        &mut t.borrow_mut().events
    )));
    a_call(
        |c| {
            let mut t = t.borrow_mut();
            let now = t.now;
            t.host.handle_command(now, c);
            t.pump();
        },
        |l| {
            let mut t = t.borrow_mut();
            let now = t.now;
            Simulator::handle_line(&mut t.board, now, l);
            t.pump();
        },
        |d| {
            let mut t = t.borrow_mut();
            t.run(d);
            (
                std::mem::take(&mut t.events),
                std::mem::take(&mut t.outputs),
            )
        },
    );
    let t = t.into_inner();
    assert_eq!(t.board.stats().refused, 0);
    assert_eq!(t.host.stats().retransmits, 0);
    assert_eq!(t.host.stats().malformed + t.host.stats().frame_errors, 0);
}

#[test]
fn reconnection_over_tcp_with_backoff_and_resync() {
    let mut t = Tcp::new(9);
    t.run(Duration::from_secs(1));
    assert!(is_up_with_statuses(&std::mem::take(&mut t.events)));
    // A call in progress: channel 2 open and active, line 3 ringing.
    t.host.handle_command(
        t.now,
        Command::CreateConnection {
            line: line(2),
            call: CallId(5),
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcma,
            ptime: Duration::from_millis(20),
            remote: Some(remote()),
        },
    );
    t.host.handle_command(
        t.now,
        Command::Ring {
            line: line(3),
            cadence: Cadence::Normal,
            caller_id: None,
        },
    );
    t.run(Duration::from_secs(1));
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::ConnectionCreated { .. }))
    );
    t.events.clear();
    t.outputs.clear();
    // The connection breaks and the board refuses new ones for a while.
    t.accepting = false;
    let broke = t.now - t.start;
    t.drop_connection();
    assert_eq!(
        std::mem::take(&mut t.events),
        vec![
            Event::ConnectionLost {
                line: line(2),
                call: CallId(5),
                reason: "the connection to the board closed".into()
            },
            Event::GatewayDown {
                gateway: gw(),
                reason: DownReason::Unreachable
            },
        ]
    );
    t.connects.clear();
    t.run(Duration::from_secs(40));
    // Waits of 1, 2, 4, 8, 16 s (less up to a quarter each), growing.
    let mut last = broke;
    let waits: Vec<Duration> = t
        .connects
        .iter()
        .map(|&at| {
            let w = at - last;
            last = at;
            w
        })
        .collect();
    assert!(waits.len() >= 4, "{waits:?}");
    for (i, w) in waits.iter().enumerate() {
        let base = Duration::from_secs(1 << i);
        assert!(*w <= base && *w >= base * 3 / 4, "attempt {i}: {waits:?}");
    }
    assert!(t.events.is_empty(), "{:?}", t.events);
    // Accepted again: every channel re-synced; the ring stopped and the channel closed.
    t.accepting = true;
    t.run(Duration::from_secs(40));
    assert!(is_up_with_statuses(&t.events), "{:?}", t.events);
    let done = executed(&t.outputs);
    for l in 1..=LINES as u16 {
        for verb in [
            "acCMD_ANALOG_IF_DISTINCTIVE_RING",
            "acCMD_STOP_PLAY_TONE",
            "acCMD_CLOSE_CHANNEL",
            "acCMD_ANALOG_IF_QUERY_STATUS",
        ] {
            assert!(
                done.contains(&(Some(l), verb, 0)),
                "line {l} {verb}: {done:?}"
            );
        }
    }
    assert!(t.host.is_up(&gw()));
    // The re-sync closed the channel the board had kept open: a new call on it opens again.
    t.events.clear();
    t.host.handle_command(
        t.now,
        Command::CreateConnection {
            line: line(2),
            call: CallId(6),
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: Some(remote()),
        },
    );
    t.run(Duration::from_secs(1));
    assert!(
        t.events.iter().any(|e| matches!(
            e,
            Event::ConnectionCreated {
                call: CallId(6),
                ..
            }
        )),
        "{:?}",
        t.events
    );
}
