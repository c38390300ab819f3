//! Offhook's TPNCP host against the simulated board, both sans-IO, over an in-memory UDP link
//! in virtual time, in both byte orders: the host's re-sync, a ring with caller id answered by
//! an off-hook, a connection that carries a `say`, digits, the connection deleted and the
//! phone hung up — with nothing refused by the board and nothing failed at the host.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{
    Cadence, CallId, CallerId, Codec, Command, ConnectionMode, Event, GatewayId, LineId, Media,
};
use gateway_control::tpncp::controller::{self as host, GatewayConfig, Host, Transport};
use gateway_control::tpncp::wire::ByteOrder;
use gateway_sim::tpncp::{Board, Config};
use gateway_sim::{ConnectionAction, LineCommand, Output, Via};

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

struct Pair {
    host: Host,
    board: Board,
    now: Instant,
    host_addr: SocketAddr,
    board_addr: SocketAddr,
    events: Vec<Event>,
    outputs: Vec<Output>,
    rtp: usize,
}

impl Pair {
    fn new(order: ByteOrder) -> Self {
        let now = epoch();
        let board_addr: SocketAddr = "127.0.0.1:2424".parse().unwrap();
        let mut gw = GatewayConfig::new(GatewayId::new("tp1"), Some(board_addr), &["0", "1"]);
        gw.transport = Transport::Udp;
        gw.byte_order = order;
        let config = host::Config {
            gateways: vec![gw],
            ..host::Config::default()
        };
        let mut board = Config::new(2).unwrap();
        board.byte_order = order;
        Self {
            host: Host::new(config, now).unwrap(),
            board: Board::new(board).unwrap(),
            now,
            host_addr: "127.0.0.1:2727".parse().unwrap(),
            board_addr,
            events: Vec::new(),
            outputs: Vec::new(),
            rtp: 0,
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.host.poll_transmit() {
                assert_eq!(t.destination, self.board_addr);
                self.board
                    .handle_datagram(self.now, self.host_addr, &t.contents);
                moved = true;
            }
            while let Some(t) = self.board.poll_transmit() {
                match t.via {
                    Via::Control => {
                        assert_eq!(t.destination, self.host_addr);
                        self.host
                            .handle_datagram(self.now, self.board_addr, &t.contents);
                        moved = true;
                    }
                    Via::Rtp(_) => self.rtp += 1,
                }
            }
            while let Some(e) = self.host.poll_event() {
                self.events.push(e);
            }
            while let Some(o) = self.board.poll_output() {
                self.outputs.push(o);
            }
            if !moved {
                break;
            }
        }
    }

    /// Runs both cores until `d` from now.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = [self.host.poll_timeout(), self.board.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.host.handle_timeout(self.now);
                    self.board.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn command(&mut self, c: Command) {
        self.host.handle_command(self.now, c);
        self.run(Duration::from_millis(100));
    }

    fn line(&mut self, c: LineCommand) {
        self.board.handle_line(self.now, c);
        self.run(Duration::from_millis(100));
    }
}

fn flow(order: ByteOrder) {
    let mut p = Pair::new(order);
    p.run(Duration::from_secs(2));
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::GatewayUp { .. })),
        "{:?}",
        p.events
    );
    assert!(p.host.is_up(&GatewayId::new("tp1")));
    let line = LineId::new(GatewayId::new("tp1"), "1");
    p.command(Command::Ring {
        line: line.clone(),
        cadence: Cadence::Distinctive(2),
        caller_id: Some(CallerId {
            number: Some("2041".into()),
            name: Some("Alice".into()),
        }),
    });
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
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::OffHook { line: l } if *l == line)),
        "{:?}",
        p.events
    );
    p.command(Command::StopRing { line: line.clone() });
    p.command(Command::CreateConnection {
        line: line.clone(),
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
    p.run(Duration::from_millis(300));
    assert_eq!(p.rtp, 10);
    p.line(LineCommand::Digits(2, "12#".into()));
    p.command(Command::DeleteConnection {
        line: line.clone(),
        call: CallId(7),
    });
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::ConnectionDeleted { .. })),
        "{:?}",
        p.events
    );
    p.line(LineCommand::OnHook(2));
    p.run(Duration::from_secs(30));
    let refused: Vec<_> = p
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::HostCommand { code, .. } if *code != 0))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(p.board.stats().refused, 0);
    assert_eq!(
        p.board.stats().malformed + p.board.stats().unknown_commands,
        0
    );
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
    flow(ByteOrder::Big);
}

#[test]
fn host_and_board_little_endian() {
    flow(ByteOrder::Little);
}
