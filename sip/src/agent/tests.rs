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
fn a_ring_without_a_registered_phone_fails_at_once() {
    let now = Instant::now();
    let mut a = new_agent(now);
    a.handle_command(now, ring("carol"));
    match events(&mut a).as_slice() {
        [
            Event::CommandFailed {
                code: 480,
                call: None,
                line: l,
                ..
            },
        ] => {
            assert_eq!(*l, line("carol"));
        }
        other => panic!("{other:?}"),
    }
    assert!(sent(&mut a).is_empty());
    assert_eq!(a.stats().calls.no_phone, 1);
}

#[test]
fn a_phone_that_answers_gets_our_answer_in_the_ack_and_a_bye_when_the_station_is_done() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    let out = sent(&mut a);
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "{out:?}");
    let (to, ack) = &acks[0];
    assert_eq!(*to, p.addr);
    assert_eq!(ack.headers.call_id(), invite.headers.call_id());
    assert_eq!(ack.headers.to().unwrap().tag(), Some("phonetag"));
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    let answer = crate::sdp::Session::parse(&ack.body).unwrap();
    assert_eq!(answer.media[0].port, 30000);
    assert_eq!(answer.media[0].formats[0], 0, "PCMU, the offer's first");
    match events(&mut a).as_slice() {
        [Event::ConnectionCreated { call, local, .. }] => {
            assert_eq!(*call, CallId(7));
            assert_eq!(local.address, SocketAddr::from(([127, 0, 0, 1], 40000)));
            assert_eq!(local.codec, Codec::Pcmu);
            assert_eq!(local.telephone_event, Some(101));
        }
        other => panic!("{other:?}"),
    }
    // A retransmitted 200 is acknowledged again, the same way.
    p.send(
        &mut a,
        now,
        &Message::Response(p.answer(&invite, 200, &phone_offer(40000))),
    );
    let again = requests(&sent(&mut a), Method::Ack);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.body, ack.body);
    assert!(events(&mut a).is_empty());
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(7),
        },
    );
    let byes = requests(&sent(&mut a), Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        events(&mut a),
        [
            Event::ConnectionDeleted {
                line: line("alice"),
                call: CallId(7)
            },
            Event::OnHook {
                line: line("alice")
            }
        ]
    );
    assert_eq!(a.stats().calls.hangups_by_us, 1);
}

#[test]
fn the_phone_hanging_up_is_on_hook_and_its_connection_goes_without_a_bye() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    sent(&mut a);
    events(&mut a);
    // The phone's BYE in the dialog.
    let call_id = invite.headers.call_id().unwrap().to_owned();
    let mut bye = p.request(Method::Bye, "offhook", &call_id, "");
    bye.headers
        .set(HeaderName::To, invite.headers.from().unwrap().to_string());
    p.send(&mut a, now, &Message::Request(bye));
    assert_eq!(only_response(sent(&mut a)).status, 200);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(7),
        },
    );
    assert!(requests(&sent(&mut a), Method::Bye).is_empty());
    assert_eq!(
        events(&mut a),
        [Event::ConnectionDeleted {
            line: line("alice"),
            call: CallId(7)
        }]
    );
}

#[test]
fn two_phones_ring_and_the_first_to_answer_wins() {
    let now = Instant::now();
    let (mut a, p1) = with_alice(now);
    let mut p2 = Phone::new("alice", "secret-a", 5064);
    p2.register(&mut a, now);
    assert!(notices(&mut a).is_empty(), "alice was registered already");
    a.handle_command(now, ring("alice"));
    let out = sent(&mut a);
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 2);
    let to_p1 = invites
        .iter()
        .find(|(to, _)| *to == p1.addr)
        .unwrap()
        .1
        .clone();
    let to_p2 = invites
        .iter()
        .find(|(to, _)| *to == p2.addr)
        .unwrap()
        .1
        .clone();
    p2.send(&mut a, now, &Message::Response(p2.answer(&to_p2, 180, "")));
    p1.send(
        &mut a,
        now,
        &Message::Response(p1.answer(&to_p1, 200, &phone_offer(40000))),
    );
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    let cancels = requests(&sent(&mut a), Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].0, p2.addr);
    assert_eq!(cancels[0].1.headers.call_id(), to_p2.headers.call_id());
}

#[test]
fn a_ring_every_phone_refuses_fails_with_the_phones_reason() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 486, "")));
    match events(&mut a).as_slice() {
        [
            Event::CommandFailed {
                code: 486,
                call: None,
                ..
            },
        ] => {}
        other => panic!("{other:?}"),
    }
}

/// The phone dials `target` (authenticated); returns its INVITE.
fn dial(
    a: &mut Agent,
    p: &mut Phone,
    now: Instant,
    target: &str,
    body: &str,
) -> (Request, Vec<(SocketAddr, Message)>) {
    let r = p.request(Method::Invite, target, "dial-1", body);
    let out = p.send_authenticated(a, now, r.clone());
    (r, out)
}

#[test]
fn dialling_the_listen_code_picks_up_to_listen_and_info_keys_reach_the_station() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let (invite, out) = dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert!(
        out.iter()
            .any(|(_, m)| matches!(m, Message::Response(r) if r.status == 100)),
        "{out:?}"
    );
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(now, create("alice", 9, 30002));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    let answer = crate::sdp::Session::parse(&ok.body).unwrap();
    assert_eq!(answer.media[0].port, 30002);
    match events(&mut a).as_slice() {
        [Event::ConnectionCreated { call, local, .. }] => {
            assert_eq!(*call, CallId(9));
            assert_eq!(local.address.port(), 41000);
        }
        other => panic!("{other:?}"),
    }
    // ACK, then a key as SIP INFO.
    let mut ack = p.request(Method::Ack, "*97", "dial-1", "");
    ack.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    ack.headers.set(
        HeaderName::CSeq,
        format!("{} ACK", invite.headers.cseq().unwrap().seq + 1),
    );
    p.send(&mut a, now, &Message::Request(ack));
    let mut info = p.request(Method::Info, "*97", "dial-1", "");
    info.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    info.headers
        .set(HeaderName::ContentType, "application/dtmf-relay");
    info.body = b"Signal=5\r\nDuration=160\r\n".to_vec();
    p.send(&mut a, now, &Message::Request(info));
    assert_eq!(only_response(sent(&mut a)).status, 200);
    match events(&mut a).as_slice() {
        [Event::Digit { digit, .. }] => assert_eq!(digit.as_char(), '5'),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dialling_in_with_nothing_to_play_is_refused_and_on_hook() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::Confirmation,
        },
    );
    assert_eq!(only_response(sent(&mut a)).status, 480);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
}

#[test]
fn dialling_a_user_waits_for_the_ring_of_the_callers_own_line() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "bob", &phone_offer(41000));
    assert_eq!(
        notices(&mut a),
        [Notice::Dialled {
            line: line("alice"),
            user: "alice".into(),
            target: "bob".into()
        }]
    );
    assert!(events(&mut a).is_empty());
    // The record request rings alice's line: her waiting call answers it, nothing is sent.
    a.handle_command(now, ring("alice"));
    assert!(requests(&sent(&mut a), Method::Invite).is_empty());
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(now, create("alice", 3, 30004));
    assert_eq!(only_response(sent(&mut a)).status, 200);
}

#[test]
fn a_dialled_call_nobody_rings_for_is_refused_after_the_wait() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "nobody", &phone_offer(41000));
    notices(&mut a);
    let at = a.poll_timeout().expect("the dial wait");
    assert!(at <= now + DIAL_WAIT);
    a.handle_timeout(at);
    assert_eq!(only_response(sent(&mut a)).status, 480);
}

#[test]
fn an_unwatched_line_or_a_busy_one_refuses_a_phones_call() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    p.register(&mut a, now);
    let (_, out) = dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert_eq!(only_response(out).status, 480, "no station for alice yet");
    a.handle_command(
        now,
        Command::AddLine {
            line: line("alice"),
        },
    );
    events(&mut a);
    dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    let r = p.request(Method::Invite, "*97", "dial-2", &phone_offer(41002));
    let out = p.send_authenticated(&mut a, now, r);
    assert_eq!(only_response(out).status, 486);
}

#[test]
fn wrong_credentials_are_refused_and_nothing_reaches_the_station() {
    let now = Instant::now();
    let (mut a, _) = with_alice(now);
    let mut liar = Phone::new("alice", "wrong", 5070);
    let (_, out) = dial(&mut a, &mut liar, now, "*97", &phone_offer(41000));
    assert_eq!(only_response(out).status, 403);
    assert!(events(&mut a).is_empty());
    assert!(
        a.stats().unauthenticated >= 2,
        "the challenge and the refusal"
    );
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
