//! The controller against a scripted media gateway, in virtual time: every message it sends is
//! parsed back, and the gateway's side is written as H.248 text.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::megaco::text;
use crate::megaco::{Command as MCommand, ContextId, Descriptor, TransactionRequest, Verb};
use crate::model::{CallId, Codec, ConnectionMode, DigitMap, Media, Tone};

const MG: &str = "127.0.0.1:2944";
const LINES: [&str; 2] = ["aaln/1", "aaln/2"];

struct Mgc {
    core: MediaGatewayController,
    now: Instant,
    mg: SocketAddr,
    next_tid: u32,
}

/// One request the controller sent: its id, context and commands as pretty text.
#[derive(Debug)]
struct Sent {
    id: u32,
    context: String,
    text: String,
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn config(address: bool) -> Config {
    Config {
        mid: "[127.0.0.1]:2940".into(),
        gateways: vec![GatewayConfig {
            id: GatewayId::new("mg1"),
            mid: "mg1".into(),
            address: address.then(|| "127.0.0.1".parse().unwrap()),
            lines: LINES.iter().map(|s| s.to_string()).collect(),
        }],
        ..Config::default()
    }
}

impl Mgc {
    fn new() -> Self {
        Self::with(config(false))
    }

    fn with(config: Config) -> Self {
        let now = epoch();
        Self {
            core: MediaGatewayController::new(config, now).unwrap(),
            now,
            mg: MG.parse().unwrap(),
            next_tid: 100,
        }
    }

    fn line(n: usize) -> LineId {
        LineId::new(GatewayId::new("mg1"), LINES[n - 1])
    }

    /// A message from the MG (`body` after the header).
    fn mg_sends(&mut self, body: &str) {
        let data = format!("MEGACO/1 mg1\n{body}");
        self.core
            .handle_datagram(self.now, self.mg, data.as_bytes());
    }

    /// A request from the MG; returns its transaction id.
    fn request(&mut self, actions: &str) -> u32 {
        self.next_tid += 1;
        let tid = self.next_tid;
        self.mg_sends(&format!("Transaction = {tid} {{ {actions} }}"));
        tid
    }

    fn register(&mut self) {
        self.request(
            "Context = - { ServiceChange = ROOT { Services { Method = Restart, Reason = \"901 Cold Boot\" } } }",
        );
    }

    /// Everything sent, as text.
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.core.poll_transmit())
            .map(|t| {
                assert_eq!(t.destination, self.mg);
                String::from_utf8(t.contents).unwrap()
            })
            .collect()
    }

    /// The requests among what was sent.
    fn requests(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        for m in self.sent() {
            let parsed = text::parse(m.as_bytes()).unwrap_or_else(|e| panic!("{e}: {m}"));
            let Body::Transactions(ts) = parsed.body else {
                continue;
            };
            for t in ts {
                if let Transaction::Request(TransactionRequest { id, actions }) = t {
                    let context = match actions[0].context {
                        ContextId::Null => "-".to_string(),
                        ContextId::Choose => "$".to_string(),
                        ContextId::All => "*".to_string(),
                        ContextId::Number(n) => n.to_string(),
                    };
                    out.push(Sent {
                        id: id.0,
                        context,
                        text: m.clone(),
                    });
                }
            }
        }
        out
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    /// Answers a request with a plain success for each of its commands.
    fn ok(&mut self, sent: &Sent) {
        let parsed = text::parse(sent.text.as_bytes()).unwrap();
        let Body::Transactions(ts) = parsed.body else {
            unreachable!()
        };
        let Transaction::Request(r) = &ts[0] else {
            unreachable!()
        };
        let commands: Vec<String> = r.actions[0]
            .commands
            .iter()
            .map(|c| format!("{} = {}", verb(&c.command), c.command.termination.0))
            .collect();
        self.mg_sends(&format!(
            "Reply = {} {{ Context = {} {{ {} }} }}",
            sent.id,
            sent.context,
            commands.join(", ")
        ));
    }

    fn fail(&mut self, sent: &Sent, code: u16) {
        self.mg_sends(&format!(
            "Reply = {} {{ Context = {} {{ Error = {code} {{ \"no\" }} }} }}",
            sent.id, sent.context
        ));
    }

    /// Registers and answers every audit and arming until quiet.
    fn up(&mut self) {
        self.register();
        self.settle();
        let events = self.events();
        assert!(events.contains(&Event::GatewayUp {
            gateway: GatewayId::new("mg1")
        }));
    }

    /// Answers every request with success until none is left.
    fn settle(&mut self) {
        loop {
            let requests = self.requests();
            if requests.is_empty() {
                return;
            }
            for r in &requests {
                self.ok(r);
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(at) = self.core.poll_timeout().filter(|&at| at <= until) {
            self.now = self.now.max(at);
            self.core.handle_timeout(self.now);
        }
        self.now = until;
    }
}

fn verb(c: &MCommand<'_>) -> &'static str {
    match c.verb {
        Verb::Add => "Add",
        Verb::Modify => "Modify",
        Verb::Subtract => "Subtract",
        Verb::Move => "Move",
        Verb::AuditValue => "AuditValue",
        Verb::AuditCapabilities => "AuditCapabilities",
        Verb::Notify => "Notify",
        Verb::ServiceChange => "ServiceChange",
    }
}

fn ring(line: LineId) -> Command {
    Command::Ring {
        line,
        cadence: Default::default(),
        caller_id: None,
    }
}

fn create(
    line: LineId,
    call: CallId,
    mode: ConnectionMode,
    codec: Codec,
    remote: Option<Media>,
) -> Command {
    Command::CreateConnection {
        line,
        call,
        mode,
        codec,
        ptime: Duration::from_millis(20),
        remote,
    }
}

fn compact(s: &str) -> String {
    s.split_whitespace().collect()
}

#[test]
fn registration_is_answered_then_root_and_each_line_audited_and_armed() {
    let mut t = Mgc::new();
    t.register();
    let sent = t.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let reply = compact(&sent[0]);
    assert!(reply.starts_with("MEGACO/1[127.0.0.1]:2940"), "{reply}");
    assert!(
        reply.contains("Reply=101{Context=-{ServiceChange=ROOT}}"),
        "{reply}"
    );
    let audit = compact(&sent[1]);
    assert!(
        audit.contains("Context=-{AuditValue=ROOT{Audit{}}}"),
        "{audit}"
    );
    assert!(t.events().is_empty(), "not up before its audit is answered");
    let root = &t.requests_of(&sent[1..]);
    t.ok(&root[0]);
    assert_eq!(
        t.events(),
        vec![Event::GatewayUp {
            gateway: GatewayId::new("mg1")
        }]
    );
    // One request per line at a time: both lines' audits go now.
    let audits = t.requests();
    assert_eq!(audits.len(), 2);
    assert!(compact(&audits[0].text).contains("AuditValue=aaln/1{Audit{}}"));
    assert!(compact(&audits[1].text).contains("AuditValue=aaln/2{Audit{}}"));
    t.ok(&audits[0]);
    assert_eq!(
        t.events(),
        vec![Event::LineStatus {
            line: Mgc::line(1),
            off_hook: false
        }]
    );
    let arm = t.requests();
    assert_eq!(arm.len(), 1);
    assert!(
        compact(&arm[0].text).contains("Modify=aaln/1{Events=1{al/of{strict=state}}}"),
        "{}",
        arm[0].text
    );
    assert_eq!(t.core.stats().registrations, 1);
}

impl Mgc {
    fn requests_of(&self, sent: &[String]) -> Vec<Sent> {
        sent.iter()
            .filter_map(|m| {
                let parsed = text::parse(m.as_bytes()).ok()?;
                let Body::Transactions(ts) = parsed.body else {
                    return None;
                };
                ts.into_iter().find_map(|t| match t {
                    Transaction::Request(r) => Some(Sent {
                        id: r.id.0,
                        context: "-".into(),
                        text: m.clone(),
                    }),
                    _ => None,
                })
            })
            .collect()
    }
}

#[test]
fn hook_events_are_reported_answered_and_the_line_rearmed() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    let tid = t.request(
        "Context = - { Notify = aaln/1 { ObservedEvents = 1 { 20261205T10000000:al/of } } }",
    );
    let sent = t.sent();
    assert!(
        compact(&sent[0]).contains(&format!("Reply={tid}{{Context=-{{Notify=aaln/1}}}}")),
        "{}",
        sent[0]
    );
    assert_eq!(t.events(), vec![Event::OffHook { line: Mgc::line(1) }]);
    let arm = t.requests_of(&sent[1..]);
    let text = compact(&arm[0].text);
    assert!(
        text.contains("Events=2{al/on{strict=state},al/fl,dd/ce{DigitMap=dialplan02}},DigitMap=dialplan02{(x|E|F|A|B|C|D)}"),
        "{text}"
    );
    t.ok(&arm[0]);
    // Keys (each completes the map; `F` is `#`, `E` is `*`), single-key events, flash.
    let key = |c| Event::Digit {
        line: Mgc::line(1),
        digit: crate::model::Digit::new(c).unwrap(),
    };
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { dd/ce { ds = \"F\", Meth = FM } } } }");
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { dd/do, al/fl, dd/d7, dd/ce { ds = \"E1\" } } } }");
    assert_eq!(
        t.events(),
        vec![
            key('#'),
            key('#'),
            Event::HookFlash { line: Mgc::line(1) },
            key('7'),
            key('*'),
            key('1')
        ]
    );
    // A repeated off-hook is not news.
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { al/of } } }");
    assert!(t.events().is_empty());
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { al/on } } }");
    assert_eq!(t.events(), vec![Event::OnHook { line: Mgc::line(1) }]);
    t.sent();
    // Events of a request id never sent, or long replaced, are dropped.
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 99 { al/of } } }");
    assert!(t.events().is_empty());
    assert!(t.core.stats().events_ignored >= 2);
}

#[test]
fn a_duplicate_notify_is_executed_once_and_answered_again() {
    let mut t = Mgc::new();
    t.up();
    let body =
        "Transaction = 7 { Context = - { Notify = aaln/2 { ObservedEvents = 1 { al/of } } } }";
    t.mg_sends(body);
    let first = t.sent();
    t.mg_sends(body);
    let second = t.sent();
    assert_eq!(t.events(), vec![Event::OffHook { line: Mgc::line(2) }]);
    assert_eq!(second.len(), 1);
    assert_eq!(first[0], second[0], "the cached reply is sent again");
}

#[test]
fn ring_and_its_stop_go_in_order_one_at_a_time() {
    let mut t = Mgc::new();
    t.up();
    let line = Mgc::line(1);
    t.core.handle_command(t.now, ring(line.clone()));
    t.core
        .handle_command(t.now, Command::StopRing { line: line.clone() });
    let ring = t.requests();
    assert_eq!(ring.len(), 1, "the stop waits for the ring's reply");
    assert!(
        compact(&ring[0].text).contains("Modify=aaln/1{Signals{al/ri}}"),
        "{}",
        ring[0].text
    );
    t.ok(&ring[0]);
    let stop = t.requests();
    assert!(
        compact(&stop[0].text).contains("Modify=aaln/1{Signals}"),
        "{}",
        stop[0].text
    );
    t.core.handle_command(
        t.now,
        Command::PlayTone {
            line: line.clone(),
            tone: Tone::Busy,
        },
    );
    t.ok(&stop[0]);
    let tone = t.requests();
    assert!(compact(&tone[0].text).contains("Signals{cg/bt}"));
    t.core.handle_command(
        t.now,
        Command::PlayTone {
            line: line.clone(),
            tone: Tone::MessageWaitingLamp,
        },
    );
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed { code: 501, .. }]
    ));
}

fn media(port: u16) -> Media {
    Media {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: None,
    }
}

#[test]
fn a_connection_is_an_add_into_a_new_context_and_a_subtract_of_both() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    let line = Mgc::line(2);
    let call = CallId(9);
    t.core.handle_command(
        t.now,
        Command::CreateConnection {
            line: line.clone(),
            call,
            mode: ConnectionMode::SendOnly,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: Some(media(16400)),
        },
    );
    let add = t.requests();
    assert_eq!(add[0].context, "$");
    let text = compact(&add[0].text);
    assert!(text.contains("Add=aaln/2{Events="), "{text}");
    assert!(
        text.contains(
            "Add=${Media{Stream=1{LocalControl{Mode=SendOnly},Local{v=0c=INIP4$m=audio$RTP/AVP0"
        ),
        "{text}"
    );
    assert!(text.contains("Remote{v=0"), "{text}");
    assert!(
        text.contains("c=INIP4127.0.0.1t=00m=audio16400RTP/AVP0"),
        "{text}"
    );
    t.mg_sends(&format!(
        "Reply = {} {{ Context = 42 {{ Add = aaln/2, Add = rtp/7 {{ Media {{ Stream = 1 {{ Local {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 20000 RTP/AVP 0\n}} }} }} }} }} }}",
        add[0].id
    ));
    assert_eq!(
        t.events(),
        vec![Event::ConnectionCreated {
            line: line.clone(),
            call,
            local: media(20000)
        }]
    );
    // A tone now goes to the line in its context.
    t.core.handle_command(
        t.now,
        Command::PlayTone {
            line: line.clone(),
            tone: Tone::Confirmation,
        },
    );
    let tone = t.requests();
    assert_eq!(tone[0].context, "42");
    assert!(compact(&tone[0].text).contains("Context=42{Modify=aaln/2{Signals{cg/wt}}}"));
    t.ok(&tone[0]);
    t.core.handle_command(
        t.now,
        Command::ModifyConnection {
            line: line.clone(),
            call,
            mode: Some(ConnectionMode::SendRecv),
            remote: None,
        },
    );
    let modify = t.requests();
    assert!(
        compact(&modify[0].text)
            .contains("Context=42{Modify=rtp/7{Media{Stream=1{LocalControl{Mode=SendReceive}}}}}"),
        "{}",
        modify[0].text
    );
    t.ok(&modify[0]);
    assert_eq!(
        t.events(),
        vec![Event::ConnectionModified {
            line: line.clone(),
            call
        }]
    );
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: line.clone(),
            call,
        },
    );
    let sub = t.requests();
    assert!(
        compact(&sub[0].text).contains("Context=42{Subtract=rtp/7,Subtract=aaln/2}"),
        "{}",
        sub[0].text
    );
    t.ok(&sub[0]);
    assert_eq!(
        t.events(),
        vec![Event::ConnectionDeleted {
            line: line.clone(),
            call
        }]
    );
    // Back in the null context, armed again.
    let arm = t.requests();
    assert_eq!(arm[0].context, "-");
    assert!(compact(&arm[0].text).contains("Modify=aaln/2{Events="));
}

#[test]
fn digits_are_collected_with_a_digit_map() {
    let mut t = Mgc::new();
    t.up();
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of } } }");
    t.settle();
    t.events();
    let map = DigitMap::parse("(xxxx|#)").unwrap();
    t.core.handle_command(
        t.now,
        Command::CollectDigits {
            line: Mgc::line(1),
            map,
        },
    );
    let collect = t.requests();
    let text = compact(&collect[0].text);
    assert!(
        text.contains(
            "Events=3{al/on{strict=state},al/fl,dd/ce{DigitMap=dialplan03}},DigitMap=dialplan03{(xxxx|F)}"
        ),
        "{text}"
    );
    t.ok(&collect[0]);
    // A single key while collecting is not reported on its own.
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 3 { dd/d1 } } }");
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 3 { dd/ce { ds = \"2041\", Meth = FM } } } }");
    let digits = "2041"
        .chars()
        .map(|c| crate::model::Digit::new(c).unwrap())
        .collect();
    assert_eq!(
        t.events(),
        vec![Event::Dialled {
            line: Mgc::line(1),
            digits
        }]
    );
}

/// A key reported under the request before the map (it crossed the collecting Modify) is a
/// key of its own; the string collected under the map is the dial string.
#[test]
fn a_key_that_crossed_the_collecting_request_is_a_single_key() {
    let mut t = Mgc::new();
    t.up();
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of } } }");
    t.settle();
    t.events();
    t.core.handle_command(
        t.now,
        Command::CollectDigits {
            line: Mgc::line(1),
            map: DigitMap::parse("(x.#)").unwrap(),
        },
    );
    let collect = t.requests();
    assert!(compact(&collect[0].text).contains("Events=3{"));
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { dd/ce { ds = \"4\", Meth = UM } } } }");
    t.ok(&collect[0]);
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 3 { dd/ce { ds = \"321F\", Meth = UM } } } }");
    let key = |c| crate::model::Digit::new(c).unwrap();
    assert_eq!(
        t.events(),
        vec![
            Event::Digit {
                line: Mgc::line(1),
                digit: key('4')
            },
            Event::Dialled {
                line: Mgc::line(1),
                digits: "321#".chars().map(key).collect()
            }
        ]
    );
    // Re-armed many times while collecting (each request carries the map again): the string
    // under the latest request is still the dial string.
    t.core.handle_command(
        t.now,
        Command::CollectDigits {
            line: Mgc::line(1),
            map: DigitMap::parse("(x.#)").unwrap(),
        },
    );
    let mut latest = 0;
    let mut answer = |t: &mut Mgc| loop {
        let requests = t.requests();
        if requests.is_empty() {
            return;
        }
        for r in &requests {
            let text = compact(&r.text);
            if let Some(at) = text.find("Events=") {
                let digits: String = text[at + 7..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                latest = digits.parse().unwrap();
            }
            t.ok(r);
        }
    };
    answer(&mut t);
    for _ in 0..10 {
        t.core
            .handle_command(t.now, Command::Audit { line: Mgc::line(1) });
        answer(&mut t);
    }
    t.events();
    assert!(latest > 12, "re-armed: {latest}");
    t.request(&format!(
        "Context = - {{ Notify = aaln/1 {{ ObservedEvents = {latest} {{ dd/ce {{ ds = \"7F\", Meth = UM }} }} }} }}"
    ));
    assert_eq!(
        t.events(),
        vec![Event::Dialled {
            line: Mgc::line(1),
            digits: "7#".chars().map(key).collect()
        }]
    );
}

#[test]
fn strangers_are_dropped_and_bad_messages_from_gateways_answered_with_errors() {
    let mut t = Mgc::with(config(true));
    // A ROOT audit goes at once to a gateway with a known address.
    let probe = t.requests();
    assert!(compact(&probe[0].text).contains("AuditValue=ROOT"));
    let other: SocketAddr = "127.0.0.9:2944".parse().unwrap();
    t.core.handle_datagram(t.now, other, b"MEGACO/1 mg1\nTransaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart } } } }");
    t.core.handle_datagram(t.now, other, b"MEGACO/1 mg9\nTransaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart } } } }");
    assert!(t.sent().is_empty());
    assert_eq!(
        (t.core.stats().wrong_address, t.core.stats().unknown_mid),
        (1, 1)
    );
    t.core.handle_datagram(
        t.now,
        t.mg,
        b"MEGACO/1 mg1\nTransaction = 5 { Context = - { Frobnicate } }",
    );
    let sent = t.sent();
    assert!(compact(&sent[0]).contains("Reply=5{Error=4"), "{}", sent[0]);
    t.core.handle_datagram(t.now, t.mg, b"hello");
    let sent = t.sent();
    assert!(compact(&sent[0]).contains("Error=400"), "{}", sent[0]);
    assert_eq!(t.core.stats().malformed, 2);
    // Commands the controller does not take from a gateway.
    t.request("Context = - { Add = aaln/1 }");
    let sent = t.sent();
    assert!(compact(&sent[0]).contains("Error=501"), "{}", sent[0]);
}

#[test]
fn an_unanswered_request_reports_the_gateway_unreachable_until_it_answers_a_probe() {
    let mut t = Mgc::new();
    t.up();
    t.advance(Duration::from_secs(61));
    let keepalive = t.requests();
    assert!(compact(&keepalive[0].text).contains("AuditValue=ROOT"));
    t.advance(Duration::from_secs(120));
    t.sent();
    let events = t.events();
    assert_eq!(
        events,
        vec![Event::GatewayDown {
            gateway: GatewayId::new("mg1"),
            reason: DownReason::Unreachable
        }]
    );
    t.core.handle_command(t.now, ring(Mgc::line(1)));
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed { code: 502, .. }]
    ));
    // Probes go every 10 s; the next one is answered.
    let probe = loop {
        t.advance(Duration::from_millis(100));
        if let Some(p) = t.requests().pop() {
            break p;
        }
    };
    assert!(
        compact(&probe.text).contains("AuditValue=ROOT"),
        "{probe:?}"
    );
    t.ok(&probe);
    assert_eq!(
        t.events(),
        vec![Event::GatewayUp {
            gateway: GatewayId::new("mg1")
        }]
    );
}

#[test]
fn graceful_and_forced_service_changes_take_the_gateway_down_and_a_restart_brings_it_back() {
    let mut t = Mgc::new();
    t.up();
    t.request(
        "Context = - { ServiceChange = ROOT { Services { Method = Graceful, Delay = 30 } } }",
    );
    assert_eq!(
        t.events(),
        vec![Event::GatewayDown {
            gateway: GatewayId::new("mg1"),
            reason: DownReason::Graceful(Duration::from_secs(30))
        }]
    );
    t.register();
    t.settle();
    assert!(t.events().contains(&Event::GatewayUp {
        gateway: GatewayId::new("mg1")
    }));
    // One line out of service, then back.
    t.request("Context = - { ServiceChange = aaln/2 { Services { Method = Forced } } }");
    t.sent();
    t.core.handle_command(t.now, ring(Mgc::line(2)));
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed { code: 430, .. }]
    ));
    t.request("Context = - { ServiceChange = aaln/2 { Services { Method = Restart } } }");
    t.settle();
    assert!(t.events().contains(&Event::LineStatus {
        line: Mgc::line(2),
        off_hook: false
    }));
}

#[test]
fn a_missing_line_is_reported_and_left_alone() {
    let mut t = Mgc::new();
    t.register();
    let root = t.requests();
    t.ok(&root[root.len() - 1]);
    t.events();
    let audits = t.requests();
    t.fail(&audits[1], 430);
    assert!(
        matches!(&t.events()[..], [Event::CommandFailed { code: 430, line, .. }] if *line == Mgc::line(2))
    );
    assert!(
        t.requests().iter().all(|r| !r.text.contains("aaln/2")),
        "its arming is not sent"
    );
}

#[test]
fn pretty_and_compact_gateways_are_answered_in_kind() {
    let mut t = Mgc::new();
    t.core.handle_datagram(
        t.now,
        t.mg,
        b"!/1 mg1\nT=3{C=-{SC=ROOT{SV{MT=RS,RE=\"901\"}}}}",
    );
    let sent = t.sent();
    assert!(sent.iter().all(|m| m.starts_with("!/1 ")), "{sent:?}");
    let _ = Descriptor::Audit(Vec::new());
}

#[test]
fn a_binary_gateway_is_answered_and_driven_in_binary() {
    use crate::megaco::{ActionRequest, ServiceChangeMethod, ServiceChangeParm, ber};
    let line = "00000000/00000000/00000001";
    let mut c = config(false);
    c.gateways[0].lines = vec![line.into()];
    let mut t = Mgc::with(c);
    let register = Message {
        version: 1,
        mid: MessageId::Device("mg1"),
        body: Body::Transactions(vec![Transaction::Request(TransactionRequest {
            id: TransactionId(77),
            actions: vec![ActionRequest {
                context: ContextId::Null,
                properties: Vec::new(),
                commands: vec![crate::megaco::CommandRequest {
                    optional: false,
                    wildcard_reply: false,
                    command: MCommand {
                        verb: Verb::ServiceChange,
                        termination: crate::megaco::TerminationId("ROOT"),
                        descriptors: vec![Descriptor::ServiceChange(vec![
                            ServiceChangeParm::Method(ServiceChangeMethod::Restart),
                            ServiceChangeParm::Reason("\"901\""),
                        ])],
                    },
                }],
            }],
        })]),
    };
    let mut bytes = Vec::new();
    ber::encode(&register, &mut bytes).unwrap();
    t.core.handle_datagram(t.now, t.mg, &bytes);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| t.core.poll_transmit())
        .map(|x| x.contents)
        .collect();
    assert_eq!(sent.len(), 2);
    let arena = ber::Arena::new();
    let reply = ber::decode(&sent[0], &arena).expect("the reply is BER");
    let Body::Transactions(ts) = &reply.body else {
        panic!("{reply:?}")
    };
    assert!(matches!(&ts[0], Transaction::Reply(r) if r.id == TransactionId(77)));
    let arena = ber::Arena::new();
    let audit = ber::decode(&sent[1], &arena).expect("the audit is BER");
    let Body::Transactions(ts) = &audit.body else {
        panic!()
    };
    let Transaction::Request(r) = &ts[0] else {
        panic!()
    };
    assert_eq!(r.actions[0].commands[0].command.verb, Verb::AuditValue);
    assert_eq!(t.core.stats().binary_received, 1);
    // Unreadable binary from the gateway gets a (binary) error.
    t.core
        .handle_datagram(t.now, t.mg, &[0x30, 0x03, 0x01, 0x01]);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| t.core.poll_transmit())
        .map(|x| x.contents)
        .collect();
    assert_eq!(sent.len(), 1);
    let arena = ber::Arena::new();
    let error = ber::decode(&sent[0], &arena).expect("the error is BER");
    assert!(
        matches!(error.body, Body::Error(e) if e.code.0 == 400),
        "{error:?}"
    );
}

/// Found by fuzzing: a gateway registering again and again while its audits are unanswered
/// piled up ROOT audits. What was in flight is dropped at each registration, and its timeout
/// does not report the new registration down.
#[test]
fn registering_again_drops_what_was_in_flight() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.core.handle_command(t.now, ring(Mgc::line(1)));
    assert_eq!(t.core.backlog(&GatewayId::new("mg1")), Some((0, 1)));
    for _ in 0..5 {
        t.register();
    }
    assert_eq!(
        t.core.backlog(&GatewayId::new("mg1")),
        Some((0, 1)),
        "one ROOT audit"
    );
    let events = t.events();
    assert!(
        matches!(
            &events[..],
            [
                Event::GatewayDown {
                    reason: DownReason::Forced,
                    ..
                },
                Event::CommandFailed { code: 502, line, .. }
            ] if *line == Mgc::line(1)
        ),
        "{events:?}"
    );
    t.settle();
    t.advance(Duration::from_secs(30));
    assert!(
        !t.events()
            .iter()
            .any(|e| matches!(e, Event::GatewayDown { .. })),
        "no old request timed out"
    );
}

#[test]
fn up_backlog_and_counters_are_reported_exactly() {
    let mut t = Mgc::new();
    let mg1 = GatewayId::new("mg1");
    assert!(!t.core.is_up(&mg1));
    assert_eq!(t.core.backlog(&GatewayId::new("other")), None);
    t.up();
    assert!(t.core.is_up(&mg1));
    assert!(
        !t.core.is_up(&GatewayId::new("other")),
        "only mg1 is configured"
    );
    // One in flight per line, the rest queued in order.
    for _ in 0..3 {
        t.core
            .handle_command(t.now, Command::StopTone { line: Mgc::line(2) });
    }
    assert_eq!(t.core.backlog(&mg1), Some((2, 1)));
    let s = t.core.stats().clone();
    // The registration and the answers to ROOT, two line audits and two armings.
    assert_eq!(
        (s.messages_received, s.text_received, s.binary_received),
        (6, 6, 0)
    );
    assert_eq!((s.requests_sent, s.registrations), (6, 1));
    t.mg_sends("Error = 400 { \"cannot read it\" }");
    assert_eq!(t.core.stats().error_replies, 1);
    assert!(t.core.transaction_stats().replies >= 5);
    // A stream (TCP) message is read like a datagram, and answered there.
    let register = b"MEGACO/1 mg1\nTransaction = 9 { Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of } } } }";
    t.core.handle_stream_message(t.now, t.mg, register);
    assert_eq!(t.events(), vec![Event::OffHook { line: Mgc::line(1) }]);
    assert_eq!(t.core.stats().messages_received, 8);
}

#[test]
fn errors_go_only_to_known_addresses_with_a_readable_text() {
    let mut t = Mgc::new();
    let stranger: SocketAddr = "127.0.0.9:2944".parse().unwrap();
    t.core
        .handle_datagram(t.now, stranger, b"MEGACO/1 mg1 Transaction = 1 { Bad");
    assert!(
        std::iter::from_fn(|| t.core.poll_transmit())
            .next()
            .is_none(),
        "no reply to a stranger"
    );
    t.up();
    t.core.handle_datagram(
        t.now,
        t.mg,
        b"MEGACO/1 mg1 Transaction = 1 { Context = - { \"quoted\" } }",
    );
    t.core.handle_datagram(t.now, t.mg, b"not megaco");
    let sent = t.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(t.core.stats().errors_sent, 2);
    for reply in &sent {
        let parsed = text::parse(reply.as_bytes()).unwrap_or_else(|e| panic!("{e}: {reply}"));
        let text = match parsed.body {
            Body::Error(e) => e.text,
            Body::Transactions(ts) => match &ts[0] {
                Transaction::Reply(r) => match &r.result {
                    crate::megaco::ReplyResult::Error(e) => e.text,
                    _ => panic!("{reply}"),
                },
                _ => panic!("{reply}"),
            },
        }
        .unwrap_or_else(|| panic!("an error text: {reply}"));
        assert!(text.len() > 8 && text.len() <= 80, "{text:?}");
        assert!(!text.contains('"') && text.chars().all(|c| c == ' ' || c.is_ascii_graphic()));
    }
    assert!(sent[1].contains("not a MEGACO message"), "{}", sent[1]);
}

#[test]
fn a_gateway_down_by_force_is_not_probed_and_an_unreachable_one_after_the_interval() {
    let mut t = Mgc::new();
    t.up();
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    t.sent();
    t.advance(Duration::from_secs(120));
    assert!(
        t.requests().is_empty(),
        "no probe of a gateway that said it went"
    );
    // Back, then silent: probed only after the probe interval.
    t.register();
    t.settle();
    t.events();
    t.advance(Duration::from_secs(61));
    let keepalive = t.requests();
    assert!(!keepalive.is_empty());
    assert!(
        keepalive
            .iter()
            .all(|r| compact(&r.text).contains("AuditValue=ROOT"))
    );
    let down = loop {
        t.advance(Duration::from_millis(100));
        t.sent();
        if t.events()
            .iter()
            .any(|e| matches!(e, Event::GatewayDown { .. }))
        {
            break t.now;
        }
    };
    t.advance(Duration::from_millis(9_900));
    assert!(t.requests().is_empty(), "no probe before 10 s");
    t.advance(Duration::from_millis(200));
    assert_eq!(t.requests().len(), 1, "the probe");
    let _ = down;
}

#[test]
fn a_restart_loses_the_connections_and_a_line_added_while_up_is_audited() {
    let mut t = Mgc::new();
    t.up();
    t.core.handle_command(
        t.now,
        create(
            Mgc::line(1),
            CallId(3),
            ConnectionMode::RecvOnly,
            Codec::Pcma,
            None,
        ),
    );
    let add = t.requests();
    t.mg_sends(&format!(
        "Reply = {} {{ Context = 7 {{ Add = aaln/1, Add = rtp/1 {{ Media {{ Local {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 30000 RTP/AVP 8\n}} }} }} }} }}",
        add[0].id
    ));
    assert!(matches!(
        t.events()[..],
        [Event::ConnectionCreated {
            call: CallId(3),
            ..
        }]
    ));
    t.register();
    let events = t.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::ConnectionLost {
                call: CallId(3),
                ..
            }
        )),
        "{events:?}"
    );
    t.settle();
    t.events();
    let new = LineId::new(GatewayId::new("mg1"), "aaln/3");
    t.core
        .handle_command(t.now, Command::AddLine { line: new.clone() });
    let audit = t.requests();
    assert!(
        compact(&audit[0].text).contains("AuditValue=aaln/3"),
        "{}",
        audit[0].text
    );
    t.ok(&audit[0]);
    t.settle();
    assert!(t.events().contains(&Event::LineStatus {
        line: new,
        off_hook: false
    }));
}

#[test]
fn encodings_and_mids_are_named_and_checked() {
    use crate::megaco::encoding::Encoding;
    let names: Vec<String> = [Encoding::Pretty, Encoding::Compact, Encoding::Binary]
        .iter()
        .map(|e| format!("{e}/{}/{}", e.as_str(), e.is_text()))
        .collect();
    assert_eq!(
        names,
        [
            "pretty/pretty/true",
            "compact/compact/true",
            "binary/binary/false"
        ]
    );
    for ok in [
        "mg1",
        "[::1]",
        "[::1]:2944",
        "[192.0.2.7]",
        "<mg.example.net>:2944",
    ] {
        assert!(valid_mid(ok), "{ok}");
    }
    for bad in ["", "[::1]x", "<mg>x:5", "1mg", "[mg]:5"] {
        assert!(!valid_mid(bad), "{bad}");
    }
}

#[test]
fn configs_at_their_bounds() {
    let gateways = |n: usize, lines: usize| Config {
        gateways: (0..n)
            .map(|i| GatewayConfig {
                id: GatewayId::new(&format!("g{i}")),
                mid: format!("mg{i}"),
                address: None,
                lines: (0..lines).map(|l| format!("aaln/{l}")).collect(),
            })
            .collect(),
        ..Config::default()
    };
    assert!(gateways(MAX_GATEWAYS, 1).validate().is_ok());
    assert_eq!(
        gateways(MAX_GATEWAYS + 1, 1).validate(),
        Err(ConfigError::TooMany("gateways"))
    );
    assert!(gateways(1, MAX_LINES_PER_GATEWAY).validate().is_ok());
    assert_eq!(
        gateways(1, MAX_LINES_PER_GATEWAY + 1).validate(),
        Err(ConfigError::TooMany("lines"))
    );
}

#[test]
fn service_changes_and_notifies_are_counted_and_a_failover_keeps_the_calls() {
    let mut t = Mgc::new();
    t.up();
    t.core.handle_command(
        t.now,
        create(
            Mgc::line(2),
            CallId(5),
            ConnectionMode::SendRecv,
            Codec::Pcmu,
            None,
        ),
    );
    let add = t.requests();
    t.mg_sends(&format!(
        "Reply = {} {{ Context = 9 {{ Add = aaln/2, Add = rtp/2 {{ Media {{ Local {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 30002 RTP/AVP 0\n}} }} }} }} }}",
        add[0].id
    ));
    t.settle();
    t.events();
    // A failover (the MG moved to us with its state) keeps the connection.
    t.request(
        "Context = - { ServiceChange = ROOT { Services { Method = Failover, Reason = \"904\" } } }",
    );
    t.settle();
    let events = t.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ConnectionLost { .. })),
        "{events:?}"
    );
    // Counted exactly.
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of, x/y, al/of } } }");
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/on } } }");
    t.request("Context = - { Move = aaln/1 }");
    t.request("Context = - { Subtract = aaln/1 }");
    t.request("Context = - { ServiceChange = aaln/1 { Services { Method = Forced } } }");
    t.request("Context = - { ServiceChange = aaln/2 { Services { Method = Graceful } } }");
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Graceful } } }");
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    let s = t.core.stats();
    assert_eq!(
        (s.notifies, s.events_reported, s.events_ignored),
        (2, 2, 2),
        "{s:?}"
    );
    assert_eq!(
        (s.commands_refused, s.service_losses, s.registrations),
        (2, 4, 2),
        "{s:?}"
    );
}

#[test]
fn a_line_restart_forgets_its_hook_state_and_waits_for_the_gateway() {
    let mut t = Mgc::new();
    t.up();
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of } } }");
    t.settle();
    t.events();
    // Restarted: on-hook again, audited and armed for off-hook.
    t.request("Context = - { ServiceChange = aaln/1 { Services { Method = Restart } } }");
    t.settle();
    assert_eq!(
        t.events(),
        vec![Event::LineStatus {
            line: Mgc::line(1),
            off_hook: false
        }]
    );
    // A failover of a line keeps its state.
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 3 { al/of } } }");
    t.settle();
    t.events();
    t.request("Context = - { ServiceChange = aaln/1 { Services { Method = Failover } } }");
    t.settle();
    assert_eq!(
        t.events(),
        vec![Event::LineStatus {
            line: Mgc::line(1),
            off_hook: true
        }]
    );
    // While the gateway is down, a line's restart is not acted on.
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    t.sent();
    t.request("Context = - { ServiceChange = aaln/2 { Services { Method = Restart } } }");
    assert_eq!(t.requests().len(), 0);
}

#[test]
fn replies_are_acknowledged_on_their_own_when_nothing_else_goes() {
    let mut t = Mgc::new();
    t.up();
    t.sent();
    t.advance(Duration::from_secs(2));
    let acks: Vec<String> = t
        .sent()
        .into_iter()
        .filter(|m| m.contains("TransactionResponseAck"))
        .collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    let parsed = text::parse(acks[0].as_bytes()).unwrap();
    let Body::Transactions(ts) = parsed.body else {
        panic!()
    };
    assert!(matches!(&ts[..], [Transaction::ResponseAck(ranges)] if !ranges.is_empty()));
}

impl Mgc {
    /// Connects `call` on line `n`: the gateway answers with context `context`, termination
    /// `rtp` and Local SDP `local` (`c=` and `m=` lines).
    fn connect(&mut self, n: usize, call: u64, context: u32, rtp: &str, local: &str) -> Vec<Event> {
        self.core.handle_command(
            self.now,
            create(
                Self::line(n),
                CallId(call),
                ConnectionMode::SendRecv,
                Codec::Pcmu,
                None,
            ),
        );
        let add = self.requests();
        let add = add.last().expect("an Add");
        self.mg_sends(&format!(
            "Reply = {} {{ Context = {context} {{ Add = {rtp} {{ Media {{ Local {{\nv=0\n{local}\n}} }} }} }} }}",
            add.id
        ));
        self.events()
    }
}

#[test]
fn calls_are_named_in_failures_and_the_last_connection_of_a_line_takes_the_line_out() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    // Refused at once for an unknown line, by the gateway for a known one: both name the call.
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: LineId::new(GatewayId::new("mg1"), "aaln/9"),
            call: CallId(4),
        },
    );
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed {
            call: Some(CallId(4)),
            code: 430,
            ..
        }]
    ));
    assert_eq!(t.core.stats().commands_failed, 1);
    t.core.handle_command(
        t.now,
        create(
            Mgc::line(1),
            CallId(6),
            ConnectionMode::SendRecv,
            Codec::Pcmu,
            None,
        ),
    );
    let add = t.requests();
    t.fail(&add[0], 510);
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed {
            call: Some(CallId(6)),
            code: 510,
            ..
        }]
    ));
    assert_eq!(t.core.stats().error_replies, 1);
    // Two calls on line 1 and one on line 2; PCMA chosen by the gateway is reported.
    let e = t.connect(
        1,
        1,
        5,
        "rtp/1",
        "c=IN IP4 127.0.0.1\nm=audio 30000 RTP/AVP 8",
    );
    assert!(
        matches!(&e[..], [Event::ConnectionCreated { local, .. }] if local.codec == Codec::Pcma),
        "{e:?}"
    );
    t.settle();
    let e = t.connect(
        1,
        2,
        5,
        "rtp/2",
        "c=IN IP4 127.0.0.1\nm=audio 30002 RTP/AVP 0",
    );
    assert!(
        matches!(&e[..], [Event::ConnectionCreated { local, .. }] if local.codec == Codec::Pcmu),
        "{e:?}"
    );
    t.settle();
    let e = t.connect(
        2,
        3,
        6,
        "rtp/3",
        "c=IN IP4 127.0.0.1\nm=audio 30004 RTP/AVP 0",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    t.settle();
    t.events();
    // The first of line 1's calls: only its RTP termination goes.
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: Mgc::line(1),
            call: CallId(1),
        },
    );
    let sub = t.requests();
    assert!(
        compact(&sub[0].text).contains("Context=5{Subtract=rtp/1}"),
        "{}",
        sub[0].text
    );
    t.ok(&sub[0]);
    assert!(t.requests().is_empty(), "line 1 stays in its context");
    // The last: the line goes too, and is armed again in the null context.
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: Mgc::line(1),
            call: CallId(2),
        },
    );
    let sub = t.requests();
    assert!(
        compact(&sub[0].text).contains("Context=5{Subtract=rtp/2,Subtract=aaln/1}"),
        "{}",
        sub[0].text
    );
    t.ok(&sub[0]);
    let arm = t.requests();
    assert_eq!((arm.len(), arm[0].context.as_str()), (1, "-"));
    // A refused Subtract still ends the call (it is gone either way).
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: Mgc::line(2),
            call: CallId(3),
        },
    );
    let sub = t.requests();
    t.fail(&sub[0], 411);
    assert!(t.events().iter().any(|e| matches!(
        e,
        Event::ConnectionDeleted {
            call: CallId(3),
            ..
        }
    )));
}

#[test]
fn a_local_description_without_an_address_is_refused_and_undone() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    let e = t.connect(
        1,
        8,
        3,
        "rtp/8",
        "c=IN IP4 0.0.0.0\nm=audio 30000 RTP/AVP 0",
    );
    assert!(
        matches!(
            &e[..],
            [Event::CommandFailed {
                call: Some(CallId(8)),
                code: 500,
                ..
            }]
        ),
        "{e:?}"
    );
    let undo = t.requests();
    assert!(
        compact(&undo[0].text).contains("Context=3{Subtract=rtp/8,Subtract=aaln/1}"),
        "{}",
        undo[0].text
    );
}

#[test]
fn lines_are_added_removed_and_audited_on_command() {
    let mut t = Mgc::new();
    // Before the gateway is up, an added line waits for it.
    let new = LineId::new(GatewayId::new("mg1"), "aaln/3");
    t.core
        .handle_command(t.now, Command::AddLine { line: new.clone() });
    assert!(t.requests().is_empty());
    t.core.handle_command(
        t.now,
        Command::AddLine {
            line: LineId::new(GatewayId::new("mg1"), "aaln/*"),
        },
    );
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed { code: 430, .. }]
    ));
    t.register();
    t.settle();
    assert!(t.events().contains(&Event::LineStatus {
        line: new.clone(),
        off_hook: false
    }));
    // Removed: its commands are refused; audited on command: LineStatus.
    t.core
        .handle_command(t.now, Command::RemoveLine { line: new.clone() });
    t.core.handle_command(t.now, ring(new.clone()));
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed { code: 430, .. }]
    ));
    t.core
        .handle_command(t.now, Command::Audit { line: Mgc::line(2) });
    let audit = t.requests();
    assert!(compact(&audit[0].text).contains("AuditValue=aaln/2"));
    t.ok(&audit[0]);
    assert_eq!(
        t.events(),
        vec![Event::LineStatus {
            line: Mgc::line(2),
            off_hook: false
        }]
    );
    // An audit error other than "unknown termination" leaves the line in use.
    t.settle();
    t.core
        .handle_command(t.now, Command::Audit { line: Mgc::line(2) });
    let audit = t.requests();
    t.fail(&audit[0], 500);
    t.settle();
    t.events();
    t.core.handle_command(t.now, ring(Mgc::line(2)));
    assert!(
        t.requests()
            .iter()
            .any(|r| compact(&r.text).contains("Signals{al/ri}"))
    );
}

#[test]
fn a_full_line_queue_refuses_and_a_delete_on_a_down_gateway_ends_the_call() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    for _ in 0..(MAX_QUEUED_PER_LINE + 2) {
        t.core
            .handle_command(t.now, Command::StopTone { line: Mgc::line(1) });
    }
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(events[0], Event::CommandFailed { code: 510, .. }));
    assert_eq!(t.core.stats().commands_failed, 1);
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    t.events();
    t.core.handle_command(
        t.now,
        Command::DeleteConnection {
            line: Mgc::line(2),
            call: CallId(9),
        },
    );
    assert_eq!(
        t.events(),
        vec![Event::ConnectionDeleted {
            line: Mgc::line(2),
            call: CallId(9)
        }]
    );
}

#[test]
fn a_gateway_gone_stays_down_whatever_its_old_requests_do() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.advance(Duration::from_millis(60_001));
    let keepalive = t.requests();
    assert!(compact(&keepalive[0].text).contains("AuditValue=ROOT"));
    t.core.handle_command(t.now, ring(Mgc::line(1)));
    t.requests();
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    t.events();
    // The keep-alive answered late, the ring never (it times out while the gateway is gone):
    // still down, not probed, no other report.
    t.ok(&keepalive[0]);
    t.advance(Duration::from_secs(120));
    assert!(!t.core.is_up(&GatewayId::new("mg1")));
    assert!(
        t.events()
            .iter()
            .all(|e| !matches!(e, Event::GatewayUp { .. } | Event::GatewayDown { .. })),
    );
    assert!(
        t.requests().iter().all(|r| !r.text.contains("AuditValue")),
        "a gateway gone by force is not probed"
    );
}

#[test]
fn a_connect_reply_without_a_context_and_a_codec_chosen_by_the_gateway() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.core.handle_command(
        t.now,
        create(
            Mgc::line(1),
            CallId(1),
            ConnectionMode::SendRecv,
            Codec::Pcma,
            None,
        ),
    );
    let add = t.requests();
    t.mg_sends(&format!(
        "Reply = {} {{ Context = - {{ Add = aaln/1 }} }}",
        add[0].id
    ));
    assert!(matches!(
        t.events()[..],
        [Event::CommandFailed {
            call: Some(CallId(1)),
            code: 500,
            ..
        }]
    ));
    assert_eq!(t.core.stats().replies_unmatched, 1);
    t.settle();
    // Asked for PCMA, the gateway chose PCMU: PCMU is what it sends.
    t.core.handle_command(
        t.now,
        create(
            Mgc::line(2),
            CallId(2),
            ConnectionMode::SendRecv,
            Codec::Pcma,
            None,
        ),
    );
    let add = t.requests();
    t.mg_sends(&format!(
        "Reply = {} {{ Context = 4 {{ Add = rtp/4 {{ Media {{ Local {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 30000 RTP/AVP 0\n}} }} }} }} }}",
        add[0].id
    ));
    assert!(
        matches!(&t.events()[..], [Event::ConnectionCreated { local, .. }] if local.codec == Codec::Pcmu)
    );
}

#[test]
fn a_compact_gateway_gets_its_acknowledgements_in_compact() {
    let mut t = Mgc::new();
    t.core.handle_datagram(
        t.now,
        t.mg,
        b"!/1 mg1\nT=3{C=-{SC=ROOT{SV{MT=RS,RE=\"901\"}}}}",
    );
    let sent = t.sent();
    let audit = t.requests_of(&sent[1..]);
    // Everything answered in compact, until quiet; then the acknowledgement goes on its own.
    let mut pending = audit;
    while !pending.is_empty() {
        for r in &pending {
            let parsed = text::parse(r.text.as_bytes()).unwrap();
            let Body::Transactions(ts) = parsed.body else {
                unreachable!()
            };
            let Transaction::Request(req) = &ts[0] else {
                unreachable!()
            };
            let c = &req.actions[0].commands[0].command;
            let reply = format!(
                "!/1 mg1\nP={}{{C={}{{{}={}}}}}",
                r.id,
                r.context,
                match c.verb {
                    Verb::AuditValue => "AV",
                    _ => "MF",
                },
                c.termination.0
            );
            t.core.handle_datagram(t.now, t.mg, reply.as_bytes());
        }
        pending = t.requests();
    }
    t.advance(Duration::from_secs(2));
    let acks: Vec<String> = t
        .sent()
        .into_iter()
        .filter(|m| m.contains("TransactionResponseAck") || m.contains("K{"))
        .collect();
    assert!(!acks.is_empty());
    assert!(acks.iter().all(|m| m.starts_with("!/1 ")), "{acks:?}");
}

#[test]
fn a_line_request_unanswered_fails_itself_and_takes_the_gateway_down() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.core.handle_command(t.now, ring(Mgc::line(1)));
    t.advance(Duration::from_secs(30));
    let events = t.events();
    assert!(
        matches!(&events[0], Event::CommandFailed { line, code: 502, .. } if *line == Mgc::line(1)),
        "{events:?}"
    );
    assert!(events.contains(&Event::GatewayDown {
        gateway: GatewayId::new("mg1"),
        reason: DownReason::Unreachable
    }));
    assert!(t.core.stats().timeouts >= 1);
}

#[test]
fn notify_windows_digit_strings_and_refused_collection() {
    let mut t = Mgc::new();
    t.up();
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 1 { al/of } } }");
    t.settle();
    t.events();
    // RequestIDs 2 (current) back to 2 - 7 count; 8 back does not.
    let key = |c| Event::Digit {
        line: Mgc::line(1),
        digit: crate::model::Digit::new(c).unwrap(),
    };
    t.request("Context = - { Notify = aaln/1 { ObservedEvents = 2 { dd/ce { Meth = FM, ds = \"12\" }, dd/ce { ds = \"\" } } } }");
    assert_eq!(t.events(), vec![key('1'), key('2')]);
    assert_eq!(t.core.stats().events_reported, 3);
    // Each key arms the line again (the RequestID grows): the ones reported under RequestID 2
    // stop once it is 8 behind, after seven.
    for _ in 0..10 {
        t.settle();
        t.request(
            "Context = - { Notify = aaln/1 { ObservedEvents = 2 { dd/ce { ds = \"1\" } } } }",
        );
    }
    assert_eq!(t.events(), vec![key('1'); 7]);
    // A refused digit collection: keys are keys again.
    t.settle();
    t.core.handle_command(
        t.now,
        Command::CollectDigits {
            line: Mgc::line(1),
            map: DigitMap::parse("xx").unwrap(),
        },
    );
    let collect = t.requests();
    t.fail(&collect[0], 520);
    t.events();
    t.settle();
    let rid = t.core.gateways[0].lines[0].request_id;
    t.request(&format!("Context = - {{ Notify = aaln/1 {{ ObservedEvents = {rid} {{ dd/ce {{ ds = \"5\" }} }} }} }}"));
    assert_eq!(t.events(), vec![key('5')]);
}

#[test]
fn error_texts_keep_printable_ascii_without_quotes() {
    assert_eq!(sanitize("a\"b\nc\td é "), "abcd  ");
    assert_eq!(sanitize(&"x".repeat(100)).len(), 80);
}

#[test]
fn refusals_are_counted_exactly() {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.core
        .handle_command(t.now, ring(LineId::new(GatewayId::new("nope"), "aaln/1")));
    t.core.handle_command(
        t.now,
        Command::PlayTone {
            line: Mgc::line(1),
            tone: Tone::MessageWaitingLamp,
        },
    );
    assert_eq!(t.core.stats().commands_failed, 2);
    t.request("Context = - { Notify = aaln/7 { ObservedEvents = 1 { al/of } } }");
    assert_eq!(t.core.stats().events_ignored, 1);
    // A line restarting while its gateway is down is left for the gateway's return.
    t.request("Context = - { ServiceChange = ROOT { Services { Method = Forced } } }");
    t.events();
    t.request("Context = - { ServiceChange = aaln/2 { Services { Method = Restart } } }");
    assert_eq!(t.events(), vec![]);
}

/// Annex A cannot carry a text termination id such as `aaln/1` (OTP's term-id config): a
/// gateway that speaks binary gets no request for such a line, and the line's station hears
/// why.
#[test]
fn a_text_line_id_on_a_binary_gateway_fails_clearly() {
    use crate::megaco::ber;
    let mut t = Mgc::new();
    let register = text::parse(
        b"MEGACO/1 mg1\nTransaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart, Reason = \"901\" } } } }",
    )
    .unwrap();
    let mut bytes = Vec::new();
    ber::encode(&register, &mut bytes).unwrap();
    t.core.handle_datagram(t.now, t.mg, &bytes);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| t.core.poll_transmit())
        .map(|x| x.contents)
        .collect();
    let arena = ber::Arena::new();
    let audit = ber::decode(&sent[1], &arena).unwrap();
    let Body::Transactions(ts) = &audit.body else {
        panic!()
    };
    let Transaction::Request(r) = &ts[0] else {
        panic!()
    };
    let reply = format!(
        "MEGACO/1 mg1\nReply = {} {{ Context = - {{ AuditValue = ROOT }} }}",
        r.id.0
    );
    let reply = text::parse(reply.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    ber::encode(&reply, &mut bytes).unwrap();
    t.core.handle_datagram(t.now, t.mg, &bytes);
    let events = t.events();
    assert!(events.contains(&Event::GatewayUp {
        gateway: GatewayId::new("mg1")
    }));
    let failed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::CommandFailed { code: 500, .. }))
        .collect();
    assert_eq!(failed.len(), 2, "one per line: {events:?}");
    // Each line's audit and its arming could not be written.
    assert_eq!(t.core.stats().encode_failures, 4);
}

mod trunk;
