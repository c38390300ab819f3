//! The four state machines, each timer, absorption, CANCEL, the cap, and the addresses, in
//! virtual time: the bench here, the cases by concern in the submodules.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::timer::{Owner, Timer};
use super::*;
use crate::wire::{self, CSeq, Scheme, Uri};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn local() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}

fn peer() -> SocketAddr {
    "10.0.0.2:5060".parse().unwrap()
}

fn uri(user: &str, host: &str) -> Uri {
    Uri {
        scheme: Scheme::Sip,
        user: Some(user.into()),
        host: host.into(),
        port: None,
        params: Vec::new(),
        headers: Vec::new(),
    }
}

/// A request as a UA would send it, without Via (the layer adds ours).
fn request(method: Method, seq: u32) -> Request {
    let mut r = Request::new(method.clone(), uri("bob", "10.0.0.2"));
    r.headers.push(HeaderName::MaxForwards, "70");
    r.headers
        .push(HeaderName::From, "<sip:alice@10.0.0.1>;tag=a1");
    r.headers.push(HeaderName::To, "<sip:bob@10.0.0.2>");
    r.headers.push(HeaderName::CallId, "call-1@10.0.0.1");
    r.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
    r
}

/// A request as received from `peer()`, with its Via (`branch`, `rport`).
fn incoming(method: Method, branch: &str, seq: u32) -> Request {
    let mut r = request(method, seq);
    r.headers = with_top_via(
        &r.headers,
        &format!("SIP/2.0/UDP 10.0.0.2:5060;branch={branch};rport")
            .parse()
            .unwrap(),
        true,
    );
    r
}

/// A test bench: the layer, virtual time, and what it sent (parsed) with the time it was sent.
struct Bench {
    tx: Transactions,
    t0: Instant,
    now: Instant,
}

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

impl Bench {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        let t0 = t0();
        Self {
            tx: Transactions::new(config),
            t0,
            now: t0,
        }
    }

    fn at(&mut self, d: Duration) -> Instant {
        self.now = self.t0 + d;
        self.now
    }

    /// Sends of the layer so far, parsed.
    fn sent(&mut self) -> Vec<(Outgoing, Message)> {
        let mut out = Vec::new();
        while let Some(o) = self.tx.poll_transmit() {
            let m = wire::parse(&o.bytes).expect("the layer sends what the codec reads");
            out.push((o, m));
        }
        out
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.tx.poll_event()).collect()
    }

    /// Fires timers up to `t0 + end`, one deadline at a time; returns the instants (from t0)
    /// at which something was sent, with what.
    fn run_to(&mut self, end: Duration) -> Vec<(Duration, Message)> {
        let mut log = Vec::new();
        let end = self.t0 + end;
        while let Some(t) = self.tx.poll_timeout().filter(|&t| t <= end) {
            self.now = t;
            self.tx.handle_timeout(t);
            for (_, m) in self.sent() {
                log.push((t - self.t0, m));
            }
        }
        self.now = end;
        log
    }

    fn send(&mut self, method: Method, transport: Transport) -> ClientTx {
        let now = self.now;
        self.tx
            .send_request(now, peer(), transport, local(), request(method, 1))
    }

    /// A response to the request the layer last sent (its Via copied), with a To tag.
    fn answer(&mut self, sent: &Message, status: u16) -> Response {
        let Message::Request(r) = sent else {
            panic!("not a request: {sent:?}")
        };
        Response::to_request(r, status, wire::reason_phrase(status), Some("b1"))
    }

    fn receive(&mut self, m: impl Into<Message>) {
        let now = self.now;
        self.tx
            .handle_message(now, peer(), Transport::Udp, m.into());
    }

    fn receive_over(&mut self, transport: Transport, m: impl Into<Message>) {
        let now = self.now;
        self.tx.handle_message(now, peer(), transport, m.into());
    }
}

fn req(m: Request) -> Message {
    Message::Request(m)
}

fn resp(m: Response) -> Message {
    Message::Response(m)
}

fn status_of(m: &Message) -> Option<u16> {
    match m {
        Message::Response(r) => Some(r.status),
        Message::Request(_) => None,
    }
}

fn method_of(m: &Message) -> Option<Method> {
    match m {
        Message::Request(r) => Some(r.method.clone()),
        Message::Response(_) => None,
    }
}

fn times(log: &[(Duration, Message)]) -> Vec<Duration> {
    log.iter().map(|(t, _)| *t).collect()
}

fn invite_in(b: &mut Bench) -> ServerTx {
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    let events = b.events();
    let [Event::Request { tx: Some(tx), .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    *tx
}

fn reply(b: &mut Bench, tx: ServerTx, status: u16) -> Response {
    let r = Response::to_request(
        &incoming(Method::Invite, "z9hG4bKinv1", 1),
        status,
        wire::reason_phrase(status),
        Some("s1"),
    );
    let now = b.now;
    b.tx.respond(now, tx, r.clone());
    r
}

fn b_answer(sent: &Message, status: u16) -> Response {
    let Message::Request(r) = sent else { panic!() };
    Response::to_request(r, status, wire::reason_phrase(status), Some("b1"))
}

mod admission;
mod client;
mod misc;
mod props;
mod server;
