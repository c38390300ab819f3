//! The four state machines, each timer, absorption, CANCEL, the cap, and the addresses, in
//! virtual time.

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

// ---------------------------------------------------------------- INVITE client (§17.1.1)

#[test]
fn invite_client_timer_a_doubles_until_timer_b() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let first = b.sent();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0.to, peer());
    let log = b.run_to(secs(40));
    // Timer A: T1, then doubling without cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    assert_eq!(times(&log), [500, 1500, 3500, 7500, 15_500, 31_500].map(ms));
    assert!(log.iter().all(|(_, m)| *m == first[0].1));
    // Timer B: 64·T1.
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert_eq!(b.tx.stats().timeouts, 1);
    assert_eq!(b.tx.stats().request_retransmissions, 6);
    assert!(b.tx.is_empty());
}

#[test]
fn invite_client_timer_b_fires_at_64_t1() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    b.sent();
    b.run_to(ms(31_999));
    assert!(b.events().is_empty());
    b.run_to(secs(32));
    assert_eq!(b.events(), [Event::Timeout { tx }]);
}

#[test]
fn invite_client_provisional_stops_retransmission_and_timer_b() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(200));
    let ringing = b.answer(&invite, 180);
    b.receive(resp(ringing.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: ringing.clone()
        }]
    );
    assert_eq!(b.tx.poll_timeout(), None, "Proceeding has no timer");
    // A second provisional goes to the TU too.
    let progress = b.answer(&invite, 183);
    b.receive(resp(progress));
    assert_eq!(b.events().len(), 1);
    assert!(b.run_to(secs(120)).is_empty());
    assert_eq!(b.tx.len(), 1);
}

#[test]
fn invite_client_non_2xx_is_acked_and_timer_d_absorbs() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(100));
    let busy = b.answer(&invite, 486);
    b.receive(resp(busy.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: busy.clone()
        }]
    );
    let acks = b.sent();
    assert_eq!(acks.len(), 1);
    let Message::Request(ack) = &acks[0].1 else {
        panic!()
    };
    let Message::Request(inv) = &invite else {
        panic!()
    };
    // §17.1.1.3: same Request-URI, top Via, From, Call-ID, CSeq number; To of the response.
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, inv.uri);
    assert_eq!(
        ack.headers.via().unwrap(),
        vec![inv.headers.top_via().unwrap()]
    );
    assert_eq!(ack.headers.from(), inv.headers.from());
    assert_eq!(ack.headers.call_id(), inv.headers.call_id());
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b1"));
    assert_eq!(
        ack.headers.cseq().unwrap(),
        CSeq {
            seq: 1,
            method: Method::Ack
        }
    );
    // A retransmitted 486 gets the ACK again and is not passed on.
    b.at(ms(2000));
    b.receive(resp(busy.clone()));
    assert!(b.events().is_empty());
    assert_eq!(b.sent().len(), 1);
    assert_eq!(b.tx.stats().absorbed, 1);
    // No retransmission of the INVITE after the final response; Timer D ends it at 32 s.
    let owner = Owner::Client(1);
    assert_eq!(
        b.tx.timers.deadline(owner, Timer::D),
        Some(b.t0 + ms(100) + TIMER_D)
    );
    assert!(b.run_to(ms(32_099)).is_empty());
    assert_eq!(b.tx.len(), 1);
    b.run_to(ms(32_100));
    assert!(b.tx.is_empty());
    b.receive(resp(busy));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
    assert!(b.sent().is_empty());
}

#[test]
fn invite_client_2xx_accepted_passes_retransmissions_until_timer_m() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(600)); // after one retransmission
    b.run_to(ms(600));
    b.sent();
    let ok = b.answer(&invite, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events().len(), 1);
    assert!(b.sent().is_empty(), "the ACK to a 2xx is the TU's");
    // RFC 6026: every 2xx retransmission goes to the TU.
    b.at(ms(1100));
    b.receive(resp(ok.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: ok.clone()
        }]
    );
    assert_eq!(
        b.tx.timers.deadline(Owner::Client(1), Timer::M),
        Some(b.t0 + ms(600) + secs(32))
    );
    assert!(b.run_to(secs(40)).is_empty(), "no INVITE retransmission");
    b.receive(resp(ok));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().unmatched_responses, 1);
}

#[test]
fn invite_client_over_tcp_has_no_timer_a_and_no_timer_d() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Tcp);
    let invite = b.sent().remove(0).1;
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer B only");
    let busy = b.answer(&invite, 486);
    b.receive_over(Transport::Tcp, resp(busy.clone()));
    assert_eq!(b.events().len(), 1);
    assert_eq!(b.sent().len(), 1, "the ACK");
    assert!(b.tx.is_empty(), "Timer D is zero");
    b.receive_over(Transport::Tcp, resp(busy));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
    let _ = tx;
}

#[test]
fn invite_client_timeout_over_tcp_without_retransmission() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Tcp);
    b.sent();
    assert!(b.run_to(secs(40)).is_empty());
    assert_eq!(b.events(), [Event::Timeout { tx }]);
}

// ------------------------------------------------------------ non-INVITE client (§17.1.2)

#[test]
fn non_invite_client_timer_e_doubles_to_t2_until_timer_f() {
    let mut b = Bench::new();
    let tx = b.send(Method::Options, Transport::Udp);
    b.sent();
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert!(b.tx.is_empty());
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2() {
    let mut b = Bench::new();
    let tx = b.send(Method::Register, Transport::Udp);
    let sent = b.sent().remove(0).1;
    b.at(ms(700));
    b.run_to(ms(700)); // one retransmission at 500 ms; next E due at 1500 ms
    b.sent();
    let trying = b.answer(&sent, 100);
    b.receive(resp(trying));
    assert_eq!(b.events().len(), 1);
    let log = b.run_to(secs(12));
    assert_eq!(times(&log), [1500, 5500, 9500].map(ms));
    let ok = b.answer(&sent, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events(), [Event::Response { tx, response: ok }]);
    assert!(b.run_to(secs(40)).is_empty());
}

#[test]
fn non_invite_client_timer_k_absorbs_then_ends() {
    let mut b = Bench::new();
    let tx = b.send(Method::Bye, Transport::Udp);
    let sent = b.sent().remove(0).1;
    b.at(ms(50));
    let ok = b.answer(&sent, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events().len(), 1);
    b.at(ms(3000));
    b.receive(resp(ok.clone()));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().absorbed, 1);
    assert_eq!(
        b.tx.timers.deadline(Owner::Client(tx.0), Timer::K),
        Some(b.t0 + ms(50) + secs(5))
    );
    assert!(b.run_to(secs(6)).is_empty());
    assert!(b.tx.is_empty());
    b.receive(resp(ok));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
}

#[test]
fn non_invite_client_over_tcp_ends_at_final() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Tcp);
    let sent = b.sent().remove(0).1;
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer F only");
    let ok = b.answer(&sent, 200);
    b.receive_over(Transport::Tcp, resp(ok));
    assert_eq!(b.events().len(), 1);
    assert!(b.tx.is_empty(), "Timer K is zero");
}

#[test]
fn responses_match_by_branch_and_cseq_method() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    let sent = b.sent().remove(0).1;
    let mut other = b.answer(&sent, 200);
    other
        .headers
        .set(HeaderName::CSeq, "1 REGISTER".to_string());
    b.receive(resp(other));
    let mut wrong = b.answer(&sent, 200);
    let mut via = wrong.headers.top_via().unwrap();
    via.params = vec![("branch".into(), Some("z9hG4bKnot-ours".into()))];
    wrong.headers = with_top_via(&wrong.headers, &via, false);
    b.receive(resp(wrong));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().unmatched_responses, 2);
}

#[test]
fn send_request_adds_our_via_with_a_fresh_branch_and_rport() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    b.send(Method::Options, Transport::Udp);
    let sent = b.sent();
    let vias: Vec<Via> = sent
        .iter()
        .map(|(_, m)| m.headers().top_via().unwrap())
        .collect();
    for via in &vias {
        assert_eq!(via.host, "10.0.0.1");
        assert_eq!(via.port, Some(5060));
        assert_eq!(via.transport, Transport::Udp);
        assert!(via.branch().unwrap().starts_with(MAGIC_COOKIE));
        assert_eq!(via.rport(), Some(None));
    }
    assert_ne!(vias[0].branch(), vias[1].branch());
    // A request that already carries our Via keeps it (and its branch).
    let mut r = request(Method::Options, 2);
    r.headers = with_top_via(&r.headers, &vias[0], true);
    let now = b.now;
    b.tx.send_request(now, peer(), Transport::Udp, local(), r);
    let again = b.sent().remove(0).1;
    assert_eq!(again.headers().via().unwrap(), vec![vias[0].clone()]);
}

// -------------------------------------------------------------- INVITE server (§17.2.1)

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

#[test]
fn invite_server_sends_trying_and_absorbs_retransmissions() {
    let mut b = Bench::new();
    invite_in(&mut b);
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].1), Some(100));
    assert_eq!(sent[0].0.to, peer());
    b.at(ms(500));
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert!(
        b.events().is_empty(),
        "a retransmission is not a new request"
    );
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    assert_eq!(b.tx.stats().absorbed, 1);
    assert_eq!(b.tx.stats().requests_received, 1);
}

#[test]
fn invite_server_resends_the_last_provisional() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 180);
    assert_eq!(status_of(&b.sent()[0].1), Some(180));
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert_eq!(status_of(&b.sent()[0].1), Some(180));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.poll_timeout(), None, "Proceeding waits for the TU");
}

#[test]
fn invite_server_timer_g_doubles_to_t2_until_timer_h() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 486);
    assert_eq!(status_of(&b.sent()[0].1), Some(486));
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert!(log.iter().all(|(_, m)| status_of(m) == Some(486)));
    assert_eq!(b.events(), [Event::AckLost { tx }]);
    assert_eq!(b.tx.stats().acks_lost, 1);
    assert!(b.tx.is_empty());
}

#[test]
fn invite_server_ack_confirms_and_timer_i_absorbs() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 486);
    b.sent();
    b.at(ms(700));
    b.run_to(ms(700)); // Timer G once
    assert_eq!(b.sent().len(), 0);
    let ack = incoming(Method::Ack, "z9hG4bKinv1", 1);
    b.receive(req(ack.clone()));
    assert!(
        b.events().is_empty(),
        "the ACK to a non-2xx is the transaction's"
    );
    assert_eq!(
        b.tx.timers.deadline(Owner::Server(tx.0), Timer::I),
        Some(b.t0 + ms(700) + secs(5))
    );
    b.at(ms(800));
    b.receive(req(ack.clone()));
    assert!(b.events().is_empty());
    // Confirmed: retransmitted INVITE gets the 486 again, no Timer G.
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert_eq!(b.sent().len(), 1);
    assert!(b.run_to(secs(6)).is_empty());
    assert!(b.tx.is_empty());
    assert!(b.events().is_empty(), "no AckLost");
    // After Timer I the same ACK is stray: the TU sees it.
    b.receive(req(ack));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Request { tx: None, .. }]
    ));
}

#[test]
fn invite_server_over_tcp_has_no_timer_g_and_no_timer_i() {
    let mut b = Bench::new();
    b.receive_over(
        Transport::Tcp,
        req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
    );
    let tx = match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    };
    reply(&mut b, tx, 603);
    assert_eq!(b.sent().len(), 2);
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer H only");
    b.receive_over(Transport::Tcp, req(incoming(Method::Ack, "z9hG4bKinv1", 1)));
    assert!(b.tx.is_empty(), "Timer I is zero");
    assert!(b.events().is_empty());
}

#[test]
fn invite_server_2xx_is_retransmitted_until_its_ack() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 200);
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    let log = b.run_to(ms(4000));
    assert_eq!(times(&log), [500, 1500, 3500].map(ms));
    // The INVITE retransmitted in Accepted is absorbed, not answered, not passed on.
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    // The ACK to the 2xx has a branch of its own; it reaches the TU once.
    let ack = incoming(Method::Ack, "z9hG4bKack1", 1);
    b.receive(req(ack.clone()));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Request { tx: None, request, .. }] if request.method == Method::Ack
    ));
    b.receive(req(ack));
    assert!(b.events().is_empty(), "a retransmitted ACK is absorbed");
    assert!(b.run_to(secs(40)).is_empty(), "no more 2xx");
    assert!(b.events().is_empty(), "Timer L after an ACK is no AckLost");
    assert!(b.tx.is_empty());
}

#[test]
fn invite_server_2xx_without_ack_ends_at_timer_l() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 200);
    b.sent();
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert_eq!(b.events(), [Event::AckLost { tx }]);
    assert_eq!(
        b.tx.stats().response_retransmissions,
        10,
        "bounded by Timer L"
    );
}

#[test]
fn invite_server_refuses_a_second_final_response() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 486);
    b.sent();
    reply(&mut b, tx, 200);
    assert!(b.sent().is_empty());
    assert_eq!(b.tx.stats().responses_refused, 1);
}

// ---------------------------------------------------------- non-INVITE server (§17.2.2)

fn options_in(b: &mut Bench, transport: Transport) -> ServerTx {
    b.receive_over(transport, req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    }
}

fn answer_options(b: &mut Bench, tx: ServerTx, status: u16) {
    let r = Response::to_request(
        &incoming(Method::Options, "z9hG4bKopt1", 7),
        status,
        "x",
        Some("t"),
    );
    let now = b.now;
    b.tx.respond(now, tx, r);
}

#[test]
fn non_invite_server_trying_proceeding_completed_and_timer_j() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Udp);
    assert!(b.sent().is_empty(), "no 100 for a non-INVITE");
    // Trying: a retransmission is absorbed silently.
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    answer_options(&mut b, tx, 100);
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    b.at(ms(300));
    answer_options(&mut b, tx, 200);
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    assert!(b.events().is_empty());
    assert_eq!(
        b.tx.timers.deadline(Owner::Server(tx.0), Timer::J),
        Some(b.t0 + ms(300) + secs(32))
    );
    assert!(
        b.run_to(secs(33)).is_empty(),
        "no retransmission of its own"
    );
    assert!(b.tx.is_empty());
    // After Timer J the same request is new again.
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(b.events().len(), 1);
}

#[test]
fn non_invite_server_over_tcp_ends_at_final() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Tcp);
    answer_options(&mut b, tx, 200);
    assert_eq!(b.sent().len(), 1);
    assert!(b.tx.is_empty(), "Timer J is zero");
}

#[test]
fn non_invite_server_unanswered_is_abandoned_after_64_t1() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Udp);
    b.run_to(ms(31_999));
    assert_eq!(b.tx.len(), 1);
    b.run_to(secs(32));
    assert!(b.tx.is_empty());
    assert_eq!(b.tx.stats().abandoned, 1);
    answer_options(&mut b, tx, 200);
    assert!(b.sent().is_empty());
    assert_eq!(b.tx.stats().responses_refused, 1);
}

// ------------------------------------------------------------------------ CANCEL (§9)

#[test]
fn cancel_matching_an_invite_is_answered_200_and_reported_once() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 180);
    b.sent();
    let cancel = incoming(Method::Cancel, "z9hG4bKinv1", 1);
    b.receive(req(cancel.clone()));
    assert_eq!(b.events(), [Event::Cancelled { invite: tx }]);
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    let Message::Response(ok) = &sent[0].1 else {
        panic!()
    };
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(
        ok.headers.to().unwrap().tag(),
        Some("s1"),
        "§9.2: the same To tag"
    );
    // A retransmitted CANCEL gets the 200 again, and no second event.
    b.receive(req(cancel));
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    assert!(b.events().is_empty());
    reply(&mut b, tx, 487);
    assert_eq!(status_of(&b.sent()[0].1), Some(487));
    assert_eq!(b.tx.stats().cancels_matched, 1);
}

#[test]
fn cancel_again_over_tcp_is_reported_once() {
    let mut b = Bench::new();
    b.receive_over(
        Transport::Tcp,
        req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
    );
    let tx = match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    };
    // Over TCP the CANCEL's transaction ends with its 200 (Timer J is zero), so a second
    // CANCEL is a new transaction: answered 200 again, but the TU hears of it once.
    for _ in 0..2 {
        b.receive_over(
            Transport::Tcp,
            req(incoming(Method::Cancel, "z9hG4bKinv1", 1)),
        );
    }
    assert_eq!(b.events(), [Event::Cancelled { invite: tx }]);
    let statuses: Vec<_> = b.sent().iter().map(|(_, m)| status_of(m)).collect();
    assert_eq!(statuses, [Some(100), Some(200), Some(200)]);
}

#[test]
fn cancel_after_the_final_response_is_answered_200_without_event() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 200);
    b.sent();
    b.receive(req(incoming(Method::Cancel, "z9hG4bKinv1", 1)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
}

#[test]
fn cancel_matching_nothing_is_answered_481() {
    let mut b = Bench::new();
    b.receive(req(incoming(Method::Cancel, "z9hG4bKnothing", 1)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(481));
    assert_eq!(b.tx.stats().cancels_unmatched, 1);
}

#[test]
fn cancel_waits_for_a_provisional_then_goes_with_the_invite_branch() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    let now = b.now;
    let cancel_tx = b.tx.cancel(now, invite_tx).unwrap();
    assert!(
        b.sent().is_empty(),
        "§9.1: not before a provisional response"
    );
    assert_eq!(b.tx.cancel(now, invite_tx), None, "only once");
    b.at(ms(100));
    b.receive(resp(b_answer(&invite, 180)));
    b.events();
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    let Message::Request(cancel) = &sent[0].1 else {
        panic!()
    };
    let Message::Request(inv) = &invite else {
        panic!()
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(
        cancel.headers.via().unwrap(),
        vec![inv.headers.top_via().unwrap()]
    );
    assert_eq!(cancel.headers.to(), inv.headers.to());
    assert_eq!(cancel.headers.cseq().unwrap().seq, 1);
    assert_eq!(cancel.headers.cseq().unwrap().method, Method::Cancel);
    // The CANCEL's 200 and the INVITE's 487 each reach their own transaction.
    let ok = b_answer(&sent[0].1, 200);
    b.receive(resp(ok.clone()));
    let terminated = b_answer(&invite, 487);
    b.receive(resp(terminated.clone()));
    assert_eq!(
        b.events(),
        [
            Event::Response {
                tx: cancel_tx,
                response: ok
            },
            Event::Response {
                tx: invite_tx,
                response: terminated
            }
        ]
    );
    assert_eq!(method_of(&b.sent()[0].1), Some(Method::Ack));
}

fn b_answer(sent: &Message, status: u16) -> Response {
    let Message::Request(r) = sent else { panic!() };
    Response::to_request(r, status, wire::reason_phrase(status), Some("b1"))
}

#[test]
fn cancelled_invite_without_final_response_times_out_64_t1_after_the_cancel() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.receive(resp(b_answer(&invite, 180)));
    b.at(secs(10));
    let now = b.now;
    let cancel_tx = b.tx.cancel(now, invite_tx).unwrap();
    let cancel = b.sent().remove(0).1;
    b.receive(resp(b_answer(&cancel, 200)));
    b.events();
    b.run_to(ms(41_999));
    assert!(b.events().is_empty());
    b.run_to(secs(42));
    assert_eq!(b.events(), [Event::Timeout { tx: invite_tx }]);
    assert_ne!(cancel_tx, invite_tx);
}

#[test]
fn cancel_of_an_answered_invite_is_refused() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.receive(resp(b_answer(&invite, 200)));
    let now = b.now;
    assert_eq!(b.tx.cancel(now, invite_tx), None);
    let options = b.send(Method::Options, Transport::Udp);
    assert_eq!(
        b.tx.cancel(now, options),
        None,
        "only an INVITE is cancelled"
    );
}

// -------------------------------------------------------------------- bounds and addresses

#[test]
fn past_max_transactions_a_request_gets_503_with_retry_after() {
    let mut config = Config::default();
    config.max_transactions(2).unwrap();
    let mut b = Bench::with(config);
    b.receive(req(incoming(Method::Options, "z9hG4bK1", 1)));
    b.receive(req(incoming(Method::Options, "z9hG4bK2", 2)));
    assert_eq!(b.events().len(), 2);
    b.receive(req(incoming(Method::Options, "z9hG4bK3", 3)));
    assert!(b.events().is_empty());
    let sent = b.sent();
    let Message::Response(busy) = &sent[0].1 else {
        panic!()
    };
    assert_eq!(busy.status, 503);
    assert_eq!(busy.headers.get(&HeaderName::RetryAfter), Some("5"));
    assert_eq!(b.tx.len(), 2, "not kept");
    assert_eq!(b.tx.stats().refused_busy, 1);
    // An ACK is never refused (nor answered), and our own request past the cap times out.
    b.receive(req(incoming(Method::Ack, "z9hG4bK4", 1)));
    assert_eq!(b.events().len(), 1);
    let tx = b.send(Method::Options, Transport::Udp);
    assert!(b.sent().is_empty());
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert_eq!(b.tx.stats().refused_local, 1);
}

#[test]
fn received_and_rport_are_added_and_responses_follow_them() {
    let mut b = Bench::new();
    let from: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let mut r = request(Method::Options, 1);
    r.headers = with_top_via(
        &r.headers,
        &"SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKnat;rport"
            .parse()
            .unwrap(),
        true,
    );
    let now = b.now;
    b.tx.handle_message(now, from, Transport::Udp, req(r.clone()));
    let events = b.events();
    let [
        Event::Request {
            tx: Some(tx),
            request,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.received(), Some("203.0.113.9"));
    assert_eq!(via.rport(), Some(Some(40000)));
    let ok = Response::to_request(request, 200, "OK", Some("t"));
    b.tx.respond(now, *tx, ok);
    assert_eq!(b.sent()[0].0.to, from, "RFC 3581: the source port");
    // Without rport: the source address at sent-by's port.
    let mut r = request_without_rport();
    r.headers = with_top_via(
        &r.headers,
        &"SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKnat2"
            .parse()
            .unwrap(),
        true,
    );
    b.tx.handle_message(now, from, Transport::Udp, req(r));
    let events = b.events();
    let [
        Event::Request {
            tx: Some(tx),
            request,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        request.headers.top_via().unwrap().received(),
        Some("203.0.113.9")
    );
    b.tx.respond(
        now,
        *tx,
        Response::to_request(request, 200, "OK", Some("t")),
    );
    assert_eq!(
        b.sent()[0].0.to,
        "203.0.113.9:5062".parse::<SocketAddr>().unwrap()
    );
}

fn request_without_rport() -> Request {
    request(Method::Options, 2)
}

#[test]
fn sent_by_matching_the_source_gets_no_received() {
    let mut b = Bench::new();
    b.receive(req({
        let mut r = request(Method::Options, 1);
        r.headers = with_top_via(
            &r.headers,
            &"SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKx".parse().unwrap(),
            true,
        );
        r
    }));
    let events = b.events();
    let [Event::Request { request, .. }] = events.as_slice() else {
        panic!()
    };
    assert_eq!(request.headers.top_via().unwrap().received(), None);
}

#[test]
fn malformed_requests_get_400_and_malformed_responses_are_dropped() {
    let mut b = Bench::new();
    let mut r = incoming(Method::Options, "z9hG4bKbad", 1);
    r.headers.remove(&HeaderName::CallId);
    b.receive(req(r));
    let out = b.tx.poll_transmit().unwrap();
    assert!(
        out.bytes.starts_with(b"SIP/2.0 400 "),
        "answered without a Call-ID to copy"
    );
    // CSeq method not the request's.
    let mut r = incoming(Method::Options, "z9hG4bKbad2", 1);
    r.headers.set(HeaderName::CSeq, "1 INVITE".to_string());
    b.receive(req(r));
    assert_eq!(status_of(&b.sent()[0].1), Some(400));
    // No branch.
    let mut r = request(Method::Options, 1);
    r.headers = with_top_via(&r.headers, &"SIP/2.0/UDP 10.0.0.2".parse().unwrap(), true);
    b.receive(req(r));
    assert_eq!(status_of(&b.sent()[0].1), Some(400));
    // No Via: nowhere to answer.
    b.receive(req(request(Method::Options, 1)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    let mut r = Response::new(200, "OK");
    r.headers.push(HeaderName::CSeq, "1 OPTIONS");
    b.receive(resp(r));
    assert_eq!(b.tx.stats().malformed, 5);
    assert!(b.tx.is_empty());
}

#[test]
fn config_setters_validate() {
    let mut c = Config::default();
    assert_eq!(c.t1(Duration::ZERO).unwrap_err(), ConfigError::Zero("T1"));
    assert_eq!(c.t2(ms(100)).unwrap_err(), ConfigError::T2BelowT1);
    assert_eq!(c.t1(secs(5)).unwrap_err(), ConfigError::T1TooLarge);
    assert_eq!(
        c.max_transactions(0).unwrap_err(),
        ConfigError::Zero("max_transactions")
    );
    assert_eq!(c, Config::default(), "a refused value changes nothing");
    c.t1(ms(100)).unwrap().t2(ms(100)).unwrap();
    assert_eq!((c.t1, c.t2), (ms(100), ms(100)));
}

#[test]
fn a_shorter_t1_scales_every_timer() {
    let mut config = Config::default();
    config.t1(ms(100)).unwrap();
    let mut b = Bench::with(config);
    let tx = b.send(Method::Invite, Transport::Udp);
    b.sent();
    let log = b.run_to(secs(7));
    assert_eq!(times(&log), [100, 300, 700, 1500, 3100, 6300].map(ms));
    assert_eq!(b.events(), [Event::Timeout { tx }], "Timer B at 6.4 s");
}

#[test]
fn timers_of_ended_transactions_are_removed() {
    let mut b = Bench::new();
    let tx = b.send(Method::Options, Transport::Udp);
    let sent = b.sent().remove(0).1;
    assert_eq!(b.tx.timers.len(), 2, "E and F");
    b.receive(resp(b_answer(&sent, 200)));
    assert_eq!(b.tx.timers.len(), 1, "K only");
    b.run_to(secs(10));
    assert_eq!(b.tx.timers.len(), 0);
    assert_eq!(b.tx.poll_timeout(), None);
    let _ = tx;
}

// ------------------------------------------------------------------------------ proptests

mod props {
    use proptest::prelude::*;

    use super::*;

    /// What may happen to one client transaction.
    #[derive(Debug, Clone)]
    enum ClientOp {
        Advance(u64),
        /// A response arrives (twice when `dup`).
        Response(u16, bool),
        Cancel,
    }

    fn client_op() -> impl Strategy<Value = ClientOp> {
        prop_oneof![
            (0u64..6000).prop_map(ClientOp::Advance),
            (
                prop::sample::select(vec![100u16, 180, 183, 200, 202, 302, 486, 487, 603]),
                any::<bool>()
            )
                .prop_map(|(s, d)| ClientOp::Response(s, d)),
            Just(ClientOp::Cancel),
        ]
    }

    /// What may happen to one INVITE server transaction.
    #[derive(Debug, Clone)]
    enum ServerOp {
        Advance(u64),
        Retransmit,
        Respond(u16),
        /// The ACK to a non-2xx (the INVITE's branch).
        Ack,
        /// The ACK to a 2xx (a branch of its own).
        Ack2xx,
        Cancel,
    }

    fn server_op() -> impl Strategy<Value = ServerOp> {
        prop_oneof![
            (0u64..6000).prop_map(ServerOp::Advance),
            Just(ServerOp::Retransmit),
            prop::sample::select(vec![180u16, 183, 200, 486, 487]).prop_map(ServerOp::Respond),
            Just(ServerOp::Ack),
            Just(ServerOp::Ack2xx),
            Just(ServerOp::Cancel),
        ]
    }

    fn advance(b: &mut Bench, d: u64) {
        let end = b.now - b.t0 + ms(d);
        b.run_to(end);
    }

    proptest! {
        /// Whatever arrives, in whatever order: the TU hears at most one final response (or a
        /// run of identical 2xx to an INVITE), a timeout only without a final response, nothing
        /// after a timeout; every 300–699 to an INVITE is ACKed; the transaction ends.
        #[test]
        fn client_reports_one_outcome(
            invite in any::<bool>(),
            reliable in any::<bool>(),
            ops in prop::collection::vec(client_op(), 0..40),
        ) {
            let mut b = Bench::new();
            let transport = if reliable { Transport::Tcp } else { Transport::Udp };
            let method = if invite { Method::Invite } else { Method::Options };
            let tx = b.send(method.clone(), transport);
            let sent = b.sent().remove(0).1;
            let mut finals: Vec<u16> = Vec::new();
            let mut timed_out = false;
            let mut cancelled = false;
            let mut proceeding = false;
            for op in ops {
                match op {
                    ClientOp::Advance(d) => advance(&mut b, d),
                    ClientOp::Response(status, dup) => {
                        for _ in 0..1 + usize::from(dup) {
                            b.receive_over(transport, resp(b_answer(&sent, status)));
                        }
                    }
                    ClientOp::Cancel => {
                        let now = b.now;
                        cancelled |= b.tx.cancel(now, tx).is_some();
                    }
                }
                for (o, m) in b.sent() {
                    prop_assert_eq!(o.to, peer());
                    if let Some(m) = method_of(&m) {
                        prop_assert!(m == Method::Ack || m == Method::Cancel || m == method.clone());
                    }
                }
                for e in b.events() {
                    match e {
                        Event::Response { tx: t, response } if t == tx => {
                            prop_assert!(!timed_out, "a response after the timeout");
                            if response.status >= 200 {
                                if let Some(&first) = finals.first() {
                                    prop_assert!(
                                        invite && (200..300).contains(&first)
                                            && response.status / 100 == 2,
                                        "a second final response {} after {}", response.status, first
                                    );
                                }
                                finals.push(response.status);
                            } else {
                                prop_assert!(finals.is_empty(), "a provisional after the final");
                                proceeding = true;
                            }
                        }
                        Event::Timeout { tx: t } if t == tx => {
                            prop_assert!(!timed_out && finals.is_empty());
                            timed_out = true;
                        }
                        _ => {} // the CANCEL's own transaction
                    }
                }
            }
            advance(&mut b, 200_000);
            for e in b.events() {
                if e == (Event::Timeout { tx }) {
                    prop_assert!(!timed_out && finals.is_empty());
                    timed_out = true;
                }
            }
            // Only an INVITE left ringing (Proceeding, never cancelled) waits for its TU.
            let ringing = invite && proceeding && finals.is_empty() && !timed_out && !cancelled;
            if ringing {
                prop_assert_eq!(b.tx.len(), 1);
            } else {
                prop_assert!(b.tx.is_empty(), "{} left", b.tx.len());
                prop_assert_eq!(b.tx.poll_timeout(), None);
            }
        }

        /// Whatever the peer and the TU do: the INVITE reaches the TU once, CANCEL is reported
        /// at most once and only before a final response, AckLost at most once and never after
        /// the ACK; every send parses; and the transaction ends once it has a final response.
        #[test]
        fn invite_server_reports_each_thing_once(
            reliable in any::<bool>(),
            ops in prop::collection::vec(server_op(), 0..40),
        ) {
            let mut b = Bench::new();
            let transport = if reliable { Transport::Tcp } else { Transport::Udp };
            b.receive_over(transport, req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
            let tx = match b.events().as_slice() {
                [Event::Request { tx: Some(tx), .. }] => *tx,
                e => panic!("{e:?}"),
            };
            let mut final_status: Option<u16> = None;
            let mut cancelled = false;
            let mut acked = false;
            let mut lost = false;
            let mut late = Vec::new();
            let mut late_cancelled = std::collections::HashSet::new();
            for op in ops {
                let was_empty = !b.tx.servers.values().any(|s| s.invite);
                match op {
                    ServerOp::Advance(d) => advance(&mut b, d),
                    ServerOp::Retransmit => b.receive_over(
                        transport,
                        req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
                    ),
                    ServerOp::Respond(status) => {
                        let known = !b.tx.is_empty();
                        reply(&mut b, tx, status);
                        if status >= 200 && final_status.is_none() && known {
                            final_status = Some(status);
                        }
                    }
                    ServerOp::Ack => {
                        if final_status.is_some_and(|s| s >= 300) && !lost {
                            acked = true;
                        }
                        b.receive_over(transport, req(incoming(Method::Ack, "z9hG4bKinv1", 1)));
                    }
                    ServerOp::Ack2xx => {
                        if final_status.is_some_and(|s| s < 300) && !lost {
                            acked = true;
                        }
                        b.receive_over(transport, req(incoming(Method::Ack, "z9hG4bKack", 1)));
                    }
                    ServerOp::Cancel => b.receive_over(
                        transport,
                        req(incoming(Method::Cancel, "z9hG4bKinv1", 1)),
                    ),
                }
                b.sent();
                for e in b.events() {
                    match e {
                        Event::Request { tx: Some(t), request, .. } => {
                            // Only a retransmission after the transaction ended is new again.
                            prop_assert_eq!(request.method, Method::Invite);
                            prop_assert!(was_empty, "the INVITE twice");
                            late.push(t);
                        }
                        Event::Request { tx: None, request, .. } => {
                            prop_assert_eq!(request.method, Method::Ack);
                        }
                        Event::Cancelled { invite } if invite == tx => {
                            prop_assert!(!cancelled && final_status.is_none());
                            cancelled = true;
                        }
                        Event::Cancelled { invite } => {
                            // A late INVITE's new transaction, not answered by this TU.
                            prop_assert!(late.contains(&invite));
                            prop_assert!(late_cancelled.insert(invite), "cancelled twice");
                        }
                        Event::AckLost { tx: t } => {
                            prop_assert_eq!(t, tx);
                            prop_assert!(!lost && !acked && final_status.is_some());
                            lost = true;
                        }
                        e => prop_assert!(false, "{e:?}"),
                    }
                }
            }
            if final_status.is_none() {
                reply(&mut b, tx, 487);
            }
            for t in late {
                reply(&mut b, t, 487);
            }
            advance(&mut b, 200_000);
            b.events();
            prop_assert!(b.tx.is_empty());
            prop_assert_eq!(b.tx.poll_timeout(), None);
        }
    }
}
