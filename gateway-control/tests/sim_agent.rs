//! The call agent core against the simulated gateway core, in virtual time: datagrams move
//! directly between the two, and time jumps to the earliest `poll_timeout`.
#![cfg(feature = "driver")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, Digit, Event, GatewayId, LineId, Media,
};
use gateway_control::sim::{self, Gateway, LineCommand, Output, Via};

struct Pair {
    agent: CallAgent,
    gw: Gateway,
    now: Instant,
    ca: SocketAddr,
    gw_addr: SocketAddr,
    events: Vec<Event>,
    outputs: Vec<Output>,
    rtp: usize,
    /// Drop every n-th control datagram (both directions), if set.
    lose_every: Option<u64>,
    sent: u64,
    lost: u64,
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

impl Pair {
    /// Whether the next control datagram is lost.
    fn lose(&mut self) -> bool {
        self.sent += 1;
        let lost = self.lose_every.is_some_and(|n| self.sent.is_multiple_of(n));
        self.lost += u64::from(lost);
        lost
    }

    fn new_lossy(lines: u16, lose_every: Option<u64>, patience: Duration) -> Self {
        let mut p = Self::build(lines);
        p.lose_every = lose_every;
        p.advance(patience);
        p
    }

    fn build(lines: u16) -> Self {
        let now = epoch();
        let ca: SocketAddr = "192.0.2.1:2727".parse().unwrap();
        let gw_addr: SocketAddr = "192.0.2.2:2427".parse().unwrap();
        let mut gc = sim::Config::new(lines, ca).unwrap();
        gc.domain("[192.0.2.2]").unwrap();
        gc.media_address("192.0.2.2".parse().unwrap());
        gc.seed(5);
        let mut gw = Gateway::new(gc, now);
        for i in 0..lines * 2 {
            gw.add_rtp_port(16384 + 2 * i);
        }
        let mut ac = AgentConfig::default();
        ac.gateway(GatewayConfig {
            id: GatewayId::new("gw1"),
            address: gw_addr,
            domain: "[192.0.2.2]".into(),
            lines: (1..=lines).map(|n| format!("aaln/{n}")).collect(),
        })
        .unwrap()
        .notified_entity("offhook@[192.0.2.1]:2727")
        .unwrap()
        .rng_seed(9)
        .unwrap();
        let agent = CallAgent::new(ac, now).unwrap();
        Self {
            agent,
            gw,
            now,
            ca,
            gw_addr,
            events: Vec::new(),
            outputs: Vec::new(),
            rtp: 0,
            lose_every: None,
            sent: 0,
            lost: 0,
        }
    }

    fn line(n: u16) -> LineId {
        LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
    }

    /// Moves every datagram across until both sides are quiet (no time passes).
    fn exchange(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.agent.poll_transmit() {
                assert_eq!(t.destination, self.gw_addr);
                if !self.lose() {
                    self.gw.handle_datagram(self.now, self.ca, &t.contents);
                }
                moved = true;
            }
            while let Some(t) = self.gw.poll_transmit() {
                match t.via {
                    Via::Control => {
                        assert_eq!(t.destination, self.ca);
                        if !self.lose() {
                            self.agent
                                .handle_datagram(self.now, self.gw_addr, &t.contents);
                        }
                        moved = true;
                    }
                    Via::Rtp(_) => self.rtp += 1,
                }
            }
            while let Some(e) = self.agent.poll_event() {
                self.events.push(e);
            }
            while let Some(o) = self.gw.poll_output() {
                self.outputs.push(o);
            }
            if !moved {
                break;
            }
        }
    }

    /// Exchanges, then jumps time forward to each timeout due within `d`.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.exchange();
        loop {
            let next = [self.agent.poll_timeout(), self.gw.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|&t| t <= end) else {
                break;
            };
            self.now = self.now.max(t);
            if self.agent.poll_timeout().is_some_and(|t| t <= self.now) {
                self.agent.handle_timeout(self.now);
            }
            if self.gw.poll_timeout().is_some_and(|t| t <= self.now) {
                self.gw.handle_timeout(self.now);
            }
            self.exchange();
        }
        self.now = end;
    }

    fn take(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        let i = self
            .events
            .iter()
            .position(want)
            .unwrap_or_else(|| panic!("not among {:#?}", self.events));
        self.events.remove(i)
    }

    fn command(&mut self, c: Command) {
        self.agent.handle_command(self.now, c);
        self.exchange();
    }

    fn on_gateway(&mut self, c: LineCommand) {
        self.gw.handle_line(self.now, c);
        self.exchange();
    }
}

#[test]
fn lines_are_armed_and_a_call_goes_through() {
    call_flow(None, Duration::from_millis(100));
}

/// Every fifth datagram lost, both ways: retransmission and duplicate suppression on both
/// sides carry the same call through, only later.
#[test]
fn a_call_goes_through_with_a_fifth_of_the_datagrams_lost() {
    let p = call_flow(Some(5), Duration::from_secs(30));
    assert!(p.lost >= 3, "{} lost", p.lost);
    assert!(p.gw.transaction_stats().retransmissions > 0);
}

fn call_flow(lose_every: Option<u64>, patience: Duration) -> Pair {
    let mut p = Pair::new_lossy(3, lose_every, patience);
    assert!(p.gw.is_registered());
    for n in 1..=3 {
        assert_eq!(p.agent.is_armed(&Pair::line(n)), Some(true), "line {n}");
    }
    p.events.clear();

    // Off-hook reaches the call agent as a model event.
    p.on_gateway(LineCommand::OffHook(1));
    p.advance(patience);
    p.take(|e| matches!(e, Event::OffHook { line } if *line == Pair::line(1)));

    // A connection, with the gateway's media address in the answer.
    p.command(Command::CreateConnection {
        line: Pair::line(1),
        call: CallId(0x51),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "192.0.2.1:40000".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        }),
    });
    p.advance(patience);
    let Event::ConnectionCreated { local, .. } = p.take(|e| {
        matches!(
            e,
            Event::ConnectionCreated {
                call: CallId(0x51),
                ..
            }
        )
    }) else {
        unreachable!()
    };
    assert_eq!(
        local.address.ip(),
        "192.0.2.2".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(p.gw.connections(1), vec![local.address]);

    // Digits while off-hook reach the call agent.
    p.advance(patience);
    p.on_gateway(LineCommand::Digits(1, "5".into()));
    p.advance(patience + Duration::from_secs(5));
    p.take(|e| {
        matches!(e, Event::Digit { line, digit } if *line == Pair::line(1)
            && *digit == Digit::new('5').unwrap())
    });

    // Ring line 2; it answers by itself after a second.
    p.on_gateway(LineCommand::AutoAnswer(2, true));
    p.command(Command::Ring {
        line: Pair::line(2),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    p.advance(patience.min(Duration::from_millis(900)));
    assert_eq!(p.gw.is_ringing(2), Some(true));
    p.advance(patience.max(Duration::from_millis(1500)));
    assert_eq!(p.gw.is_off_hook(2), Some(true));
    p.take(|e| matches!(e, Event::OffHook { line } if *line == Pair::line(2)));

    // Hang-up and delete.
    p.command(Command::DeleteConnection {
        line: Pair::line(1),
        call: CallId(0x51),
    });
    p.take(|e| {
        matches!(
            e,
            Event::ConnectionDeleted {
                call: CallId(0x51),
                ..
            }
        )
    });
    assert!(p.gw.connections(1).is_empty());
    p.advance(patience);
    p.on_gateway(LineCommand::OnHook(1));
    p.advance(patience + Duration::from_secs(1));
    p.take(|e| matches!(e, Event::OnHook { line } if *line == Pair::line(1)));
    assert_eq!(p.gw.stats().refused, 0, "the gateway refused nothing");
    p
}
