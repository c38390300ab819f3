//! The agent against scripted phones, in virtual time: every message is parsed and checked as a
//! phone would, and the phone's answers are written as a phone writes them.
// Time starts at the real now and then moves only by the tests' hand.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_control::model::{
    Cadence, CallId, Codec, Command, Event, GatewayId, LineId, Media, Tone,
};

use super::*;
use crate::digest::{self, Challenge};
use crate::wire::{self, Message, Method, Request, Response};

mod calls;
mod dialogs;
mod lamp;
mod requests;

struct Table(HashMap<String, String>);

impl Accounts for Table {
    fn secret(&self, user: &str) -> Option<String> {
        self.0.get(user).cloned()
    }
}

const SERVER: &str = "127.0.0.1:5060";

fn new_agent(now: Instant) -> Agent {
    let accounts = Table(
        [("alice", "secret-a"), ("bob", "secret-b")]
            .into_iter()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .collect(),
    );
    let mut a = Agent::new(
        Config {
            gateway: GatewayId::new("sip"),
            local: SERVER.parse().unwrap(),
            listen_code: "*97".into(),
            user_agent: "Offhook/test".into(),
            accounts: Arc::new(accounts),
            registrar: registrar::Config::default(),
            transactions: transaction::Config::default(),
            keepalive: None,
            max_calls_setting_up: 8,
            nonce_key: [7; 32],
            rng_seed: 1,
        },
        now,
    );
    assert_eq!(
        a.poll_event(),
        Some(Event::GatewayUp {
            gateway: GatewayId::new("sip")
        })
    );
    a
}

fn line(user: &str) -> LineId {
    LineId::new(GatewayId::new("sip"), user)
}

/// Everything the agent sent, parsed.
fn sent(a: &mut Agent) -> Vec<(SocketAddr, Message)> {
    std::iter::from_fn(|| a.poll_transmit())
        .map(|o| {
            let m = wire::parse(&o.bytes)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.bytes)));
            (o.to, m)
        })
        .collect()
}

fn events(a: &mut Agent) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

fn notices(a: &mut Agent) -> Vec<Notice> {
    std::iter::from_fn(|| a.poll_notice()).collect()
}

fn only_response(out: Vec<(SocketAddr, Message)>) -> Response {
    let responses: Vec<Response> = out
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::Response(r) if r.status >= 200 => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(responses.len(), 1, "{responses:?}");
    responses.into_iter().next().unwrap()
}

fn requests(out: &[(SocketAddr, Message)], method: Method) -> Vec<(SocketAddr, Request)> {
    out.iter()
        .filter_map(|(to, m)| match m {
            Message::Request(r) if r.method == method => Some((*to, r.clone())),
            _ => None,
        })
        .collect()
}

/// A phone: a user agent with one address, writing requests as phones do.
struct Phone {
    user: &'static str,
    password: &'static str,
    addr: SocketAddr,
    cseq: u32,
    n: u32,
}

impl Phone {
    fn new(user: &'static str, password: &'static str, port: u16) -> Self {
        Self {
            user,
            password,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            cseq: 0,
            n: 0,
        }
    }

    fn request(&mut self, method: Method, to_user: &str, call_id: &str, body: &str) -> Request {
        self.cseq += 1;
        self.n += 1;
        let uri: wire::Uri = format!("sip:{to_user}@{SERVER}").parse().unwrap();
        let mut r = Request::new(method.clone(), uri);
        let h = &mut r.headers;
        h.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/UDP {};branch=z9hG4bKphone{}x{}",
                self.addr, self.user, self.n
            ),
        );
        h.push(HeaderName::MaxForwards, "70");
        h.push(
            HeaderName::From,
            format!("<sip:{}@{SERVER}>;tag=ph{}", self.user, self.user),
        );
        let to_user = if method == Method::Register {
            self.user
        } else {
            to_user
        };
        h.push(HeaderName::To, format!("<sip:{to_user}@{SERVER}>"));
        h.push(HeaderName::CallId, call_id.to_owned());
        h.push(
            HeaderName::CSeq,
            format!("{} {}", self.cseq, method.as_str()),
        );
        h.push(
            HeaderName::Contact,
            format!("<sip:{}@{}>", self.user, self.addr),
        );
        if !body.is_empty() {
            h.push(HeaderName::ContentType, "application/sdp");
            r.body = body.as_bytes().to_vec();
        }
        r
    }

    fn send(&self, a: &mut Agent, now: Instant, m: &Message) {
        a.handle_message(now, self.addr, Transport::Udp, &m.encode());
    }

    /// Sends `r`; on a 401 answers the challenge once. Returns what the agent sent last.
    fn send_authenticated(
        &mut self,
        a: &mut Agent,
        now: Instant,
        mut r: Request,
    ) -> Vec<(SocketAddr, Message)> {
        self.send(a, now, &Message::Request(r.clone()));
        let out = sent(a);
        let challenge = out.iter().find_map(|(_, m)| match m {
            Message::Response(resp) if resp.status == 401 => Some(resp.clone()),
            _ => None,
        });
        let Some(challenge) = challenge else {
            return out;
        };
        if r.method == Method::Invite {
            // The INVITE client transaction acknowledges its non-2xx answer (§17.1.1.3).
            let mut ack = Request::new(Method::Ack, r.uri.clone());
            for name in [HeaderName::Via, HeaderName::From, HeaderName::CallId] {
                ack.headers
                    .push(name.clone(), r.headers.get(&name).unwrap().to_owned());
            }
            ack.headers.push(
                HeaderName::To,
                challenge.headers.get(&HeaderName::To).unwrap().to_owned(),
            );
            ack.headers.push(
                HeaderName::CSeq,
                format!("{} ACK", r.headers.cseq().unwrap().seq),
            );
            self.send(a, now, &Message::Request(ack));
            assert!(sent(a).is_empty(), "the ACK to the 401 is absorbed");
        }
        let c = Challenge::parse(
            challenge
                .headers
                .get(&HeaderName::WwwAuthenticate)
                .expect("a challenge"),
        )
        .unwrap();
        let creds = digest::authorize(
            &c,
            self.user,
            self.password,
            r.method.as_str(),
            &r.uri.to_string(),
            "cnonce1",
            1,
        );
        self.cseq += 1;
        self.n += 1;
        r.headers.set(
            HeaderName::Via,
            format!(
                "SIP/2.0/UDP {};branch=z9hG4bKphone{}x{}",
                self.addr, self.user, self.n
            ),
        );
        r.headers.set(
            HeaderName::CSeq,
            format!("{} {}", self.cseq, r.method.as_str()),
        );
        r.headers
            .push(HeaderName::Authorization, creds.header_value());
        self.send(a, now, &Message::Request(r));
        sent(a)
    }

    fn register(&mut self, a: &mut Agent, now: Instant) {
        let call_id = format!("reg-{}-{}", self.user, self.addr.port());
        let r = self.request(Method::Register, self.user, &call_id, "");
        let ok = only_response(self.send_authenticated(a, now, r));
        assert_eq!(ok.status, 200, "{ok:?}");
    }

    /// The phone's answer to `req` (an INVITE, a BYE…), with its to-tag.
    fn answer(&self, req: &Request, status: u16, body: &str) -> Response {
        let mut r = Response::to_request(req, status, reason_phrase(status), Some("phonetag"));
        r.headers.push(
            HeaderName::Contact,
            format!("<sip:{}@{}>", self.user, self.addr),
        );
        if !body.is_empty() {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = body.as_bytes().to_vec();
        }
        r
    }
}

/// The phone's offer: PCMU, PCMA and telephone-event, RTP on port `port`.
fn phone_offer(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The station's side of the media.
fn ours(port: u16) -> Media {
    Media {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: Some(101),
    }
}

fn create(user: &str, call: u64, port: u16) -> Command {
    Command::CreateConnection {
        line: line(user),
        call: CallId(call),
        mode: gateway_control::model::ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(ours(port)),
    }
}

fn ring(user: &str) -> Command {
    Command::Ring {
        line: line(user),
        cadence: Cadence::Normal,
        caller_id: None,
    }
}

/// A registered alice whose line the station watches.
fn with_alice(now: Instant) -> (Agent, Phone) {
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    p.register(&mut a, now);
    assert_eq!(
        notices(&mut a),
        [Notice::Registered {
            user: "alice".into()
        }]
    );
    a.handle_command(
        now,
        Command::AddLine {
            line: line("alice"),
        },
    );
    assert_eq!(
        events(&mut a),
        [Event::LineStatus {
            line: line("alice"),
            off_hook: false
        }]
    );
    (a, p)
}

/// Rings alice and has her phone answer with its offer; returns the INVITE.
fn answered_ring(a: &mut Agent, p: &Phone, now: Instant) -> Request {
    a.handle_command(now, ring("alice"));
    let out = sent(a);
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1);
    let (to, invite) = invites.into_iter().next().unwrap();
    assert_eq!(to, p.addr);
    assert!(
        invite.body.is_empty(),
        "delayed offer: no SDP in the INVITE"
    );
    assert_eq!(invite.uri.user.as_deref(), Some("alice"));
    p.send(a, now, &Message::Response(p.answer(&invite, 180, "")));
    assert!(events(a).is_empty(), "ringing is not off hook");
    p.send(
        a,
        now,
        &Message::Response(p.answer(&invite, 200, &phone_offer(40000))),
    );
    assert_eq!(
        events(a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    invite
}

#[test]
fn the_lamp_goes_to_each_phone_as_a_notify() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::MessageWaitingLamp,
        },
    );
    let notifies = requests(&sent(&mut a), Method::Notify);
    assert_eq!(notifies.len(), 1);
    assert_eq!(notifies[0].0, p.addr);
    let n = &notifies[0].1;
    assert_eq!(n.headers.get(&HeaderName::Event), Some("message-summary"));
    let body = String::from_utf8(n.body.clone()).unwrap();
    assert!(body.starts_with("Messages-Waiting: yes\r\n"), "{body}");
    // The same state again sends nothing; off sends "no".
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::MessageWaitingLamp,
        },
    );
    assert!(sent(&mut a).is_empty());
    a.handle_command(
        now,
        Command::StopTone {
            line: line("alice"),
        },
    );
    let off = requests(&sent(&mut a), Method::Notify);
    assert!(String::from_utf8_lossy(&off[0].1.body).starts_with("Messages-Waiting: no"));
}

#[test]
fn a_subscription_gets_the_lamp_in_its_dialog() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::MessageWaitingLamp,
        },
    );
    sent(&mut a);
    let mut sub = p.request(Method::Subscribe, "alice", "sub-1", "");
    sub.headers.push(HeaderName::Event, "message-summary");
    sub.headers.push(HeaderName::Expires, "600");
    let out = p.send_authenticated(&mut a, now, sub);
    let ok = out
        .iter()
        .find_map(|(_, m)| match m {
            Message::Response(r) if r.status == 200 => Some(r.clone()),
            _ => None,
        })
        .expect("200");
    assert_eq!(ok.headers.expires(), Some(600));
    let notify = requests(&out, Method::Notify).remove(0).1;
    assert_eq!(notify.headers.call_id(), Some("sub-1"));
    assert_eq!(
        notify.headers.from().unwrap().tag(),
        ok.headers.to().unwrap().tag()
    );
    assert!(
        notify
            .headers
            .get(&HeaderName::SubscriptionState)
            .unwrap()
            .starts_with("active")
    );
    assert!(String::from_utf8_lossy(&notify.body).contains("Messages-Waiting: yes"));
    // Another package is refused.
    let mut other = p.request(Method::Subscribe, "alice", "sub-2", "");
    other.headers.push(HeaderName::Event, "presence");
    p.send(&mut a, now, &Message::Request(other));
    assert_eq!(only_response(sent(&mut a)).status, 489);
}

#[test]
fn a_malformed_request_is_answered_400_when_it_can_be_and_dropped_when_not() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let from: SocketAddr = "127.0.0.1:5099".parse().unwrap();
    let bad =
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 99999999999\r\n\r\n";
    a.handle_message(now, from, Transport::Udp, bad);
    let out = sent(&mut a);
    assert_eq!(out.len(), 1, "{out:?}");
    match &out[0] {
        (to, Message::Response(r)) => {
            assert_eq!(*to, from);
            assert!(r.status >= 400 && r.status < 500, "{r:?}");
            assert_eq!(r.headers.call_id(), Some("c1"));
        }
        other => panic!("{other:?}"),
    }
    a.handle_message(now, from, Transport::Udp, b"\x00\x01garbage");
    assert!(sent(&mut a).is_empty());
    assert_eq!(a.stats().malformed, 2);
}

#[test]
fn options_are_answered_with_what_we_take() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    let r = p.request(Method::Options, "offhook", "opt-1", "");
    p.send(&mut a, now, &Message::Request(r));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers
            .get(&HeaderName::Allow)
            .unwrap()
            .contains("INVITE")
    );
}

#[test]
fn a_command_for_another_gateway_fails() {
    let now = Instant::now();
    let mut a = new_agent(now);
    a.handle_command(
        now,
        Command::StopRing {
            line: LineId::new(GatewayId::new("gw1"), "aaln/1"),
        },
    );
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 500, .. }]
    ));
}
