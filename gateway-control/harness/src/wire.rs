//! The links a [`Pair`](crate::Pair) can run over: [`Lossy`] in memory and virtual time,
//! [`Udp`] on loopback sockets in wall-clock time.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Side;

/// A link between the two ends of a [`Pair`](crate::Pair).
pub trait Wire {
    /// A datagram for `to` is put on the link at `now`.
    fn send(&mut self, now: Instant, to: Side, contents: Vec<u8>);
    /// The next datagram that has arrived by `now`, and for whom.
    fn poll_receive(&mut self, now: Instant) -> Option<(Side, Vec<u8>)>;
    /// When the next datagram in flight arrives, if the link knows.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// What a [`Lossy`] link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Datagrams put on the link.
    pub sent: u64,
    /// Datagrams lost (by chance, by [`Lossy::lose_every`], or while cut).
    pub lost: u64,
    /// Datagrams delivered twice.
    pub duplicated: u64,
}

/// A seeded in-memory link: each datagram is lost with probability `loss`, otherwise
/// duplicated with probability `duplication`, and each copy arrives after a delay drawn from
/// `delay` (whole milliseconds), so that copies and retransmissions also arrive out of order.
/// The default is perfect: no loss, no duplication, no delay, and no random draws.
#[derive(Debug, Clone)]
pub struct Lossy {
    rng: StdRng,
    loss: f64,
    duplication: f64,
    delay: (Duration, Duration),
    lose_every: Option<u64>,
    cut: bool,
    in_flight: BTreeMap<(Instant, u64), (Side, Vec<u8>)>,
    seq: u64,
    stats: LinkStats,
}

impl Default for Lossy {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Lossy {
    /// A perfect link whose random draws, once enabled, come from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            loss: 0.0,
            duplication: 0.0,
            delay: (Duration::ZERO, Duration::ZERO),
            lose_every: None,
            cut: false,
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    /// Each datagram is lost with probability `p` (0 to 1).
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p.clamp(0.0, 1.0);
        self
    }

    /// Each datagram not lost is delivered twice with probability `p` (0 to 1).
    pub fn duplication(mut self, p: f64) -> Self {
        self.duplication = p.clamp(0.0, 1.0);
        self
    }

    /// Each copy arrives between `min` and `max` after it was sent (whole milliseconds).
    pub fn delay(mut self, min: Duration, max: Duration) -> Self {
        self.delay = (min, max.max(min));
        self
    }

    /// Every `n`-th datagram (counting both directions) is lost, deterministically.
    pub fn lose_every(mut self, n: u64) -> Self {
        self.lose_every = Some(n.max(1));
        self
    }

    /// Cuts the link (every datagram sent while cut is lost) or restores it.
    pub fn set_cut(&mut self, cut: bool) {
        self.cut = cut;
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    fn draw(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.gen_bool(p)
    }

    fn draw_delay(&mut self) -> Duration {
        let (min, max) = self.delay;
        if max == min {
            return min;
        }
        let range = min.as_millis() as u64..=max.as_millis() as u64;
        Duration::from_millis(self.rng.gen_range(range))
    }
}

impl Wire for Lossy {
    fn send(&mut self, now: Instant, to: Side, contents: Vec<u8>) {
        self.stats.sent += 1;
        let every = self
            .lose_every
            .is_some_and(|n| self.stats.sent.is_multiple_of(n));
        if self.cut || every || self.draw(self.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.draw(self.duplication) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = now + self.draw_delay();
            self.seq += 1;
            self.in_flight
                .insert((at, self.seq), (to, contents.clone()));
        }
    }

    fn poll_receive(&mut self, now: Instant) -> Option<(Side, Vec<u8>)> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|&(t, _)| t)
    }
}

/// Two non-blocking UDP sockets on loopback, one for each end: datagrams cross the kernel.
/// Sends are queued and go out at most [`Udp::BATCH`] before the receiving sockets are read,
/// so that a burst never overflows the default receive buffer, and one turn (one `now`)
/// receives at most `2 ×` [`Udp::BATCH`], so that the caller regains control (and stamps what
/// happened) often. Time is the caller's (a bench passes the wall clock to
/// [`Pair::advance_to`](crate::Pair::advance_to)).
#[derive(Debug)]
pub struct Udp {
    controller: UdpSocket,
    gateway: UdpSocket,
    queue: VecDeque<(Side, Vec<u8>)>,
    buf: Vec<u8>,
    /// The current turn and what it received.
    turn: Option<(Instant, usize)>,
    /// Datagrams sent on the sockets.
    pub sent: u64,
}

impl Udp {
    /// Datagrams sent before the sockets are read.
    pub const BATCH: usize = 64;

    /// Binds both sockets on `127.0.0.1`, on ports the system picks.
    pub fn bind() -> io::Result<Self> {
        let controller = UdpSocket::bind("127.0.0.1:0")?;
        let gateway = UdpSocket::bind("127.0.0.1:0")?;
        controller.set_nonblocking(true)?;
        gateway.set_nonblocking(true)?;
        Ok(Self {
            controller,
            gateway,
            queue: VecDeque::new(),
            buf: vec![0; 65_536],
            turn: None,
            sent: 0,
        })
    }

    /// The controller's socket address.
    pub fn controller_addr(&self) -> SocketAddr {
        self.controller.local_addr().expect("a bound socket")
    }

    /// The gateway's socket address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.local_addr().expect("a bound socket")
    }

    fn receive(&mut self) -> Option<(Side, Vec<u8>)> {
        for (side, socket) in [
            (Side::Gateway, &self.gateway),
            (Side::Controller, &self.controller),
        ] {
            match socket.recv_from(&mut self.buf) {
                Ok((n, _)) => return Some((side, self.buf[..n].to_vec())),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{side:?} socket: {e}"),
            }
        }
        None
    }
}

impl Wire for Udp {
    fn send(&mut self, _now: Instant, to: Side, contents: Vec<u8>) {
        self.queue.push_back((to, contents));
    }

    fn poll_receive(&mut self, now: Instant) -> Option<(Side, Vec<u8>)> {
        let received = match self.turn {
            Some((t, n)) if t == now => n,
            _ => 0,
        };
        if received >= 2 * Self::BATCH {
            return None;
        }
        loop {
            if let Some(datagram) = self.receive() {
                self.turn = Some((now, received + 1));
                return Some(datagram);
            }
            if self.queue.is_empty() {
                return None;
            }
            let (controller, gateway) = (self.controller_addr(), self.gateway_addr());
            for (to, contents) in self.queue.drain(..self.queue.len().min(Self::BATCH)) {
                let (from, dest) = match to {
                    Side::Gateway => (&self.controller, gateway),
                    Side::Controller => (&self.gateway, controller),
                };
                from.send_to(&contents, dest).expect("send on loopback");
                self.sent += 1;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
